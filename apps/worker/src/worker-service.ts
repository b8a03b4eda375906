import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Job } from 'bullmq';
import {
  DestinationQueues,
  EventInvokeConfigStore,
  EventProducer,
  dropFinishedPayload,
  EnvironmentWaitMarks,
  UnloadedEventSweeper,
  RedisOomBackoff,
  SlotPool,
  checkRedisDurability,
  createTierFoundation,
  requireRedisTarget,
  closeRedis,
  endBlockingConnections,
  pingRedis,
  describeRedisTarget,
  deadLetterReasonOf,
  functionOfQueue,
  loadFunctions,
  parseAttemptRecords,
  type FunctionLoadersOptions,
  type ResolvedFunction,
  type KnownQueueNotice,
  type Logger,
  WORKER_SHUTDOWN_GRACE_MS,
  type Metrics,
  type ResolvedConfig,
} from '@invoq/core';
import { createMetricsServer } from './metrics-server';
import { createFunctionWorker, workerConcurrencyOf, type FunctionWorker } from './function-worker';
import { FunctionWorkers } from './function-workers';
import { sweepDeleted, sweepUnloaded } from './queue-sweeps';
import { createProcessor } from './processor';

/** A run that waits for an environment this long is marked so (status: `queued`). */
const WAIT_MARK_AFTER_MS = 50;

export interface WorkerService {
  metricsServer: Server;
  metricsPort: number;
  slots: SlotPool;
  close(): Promise<void>;
}

/** Counts what happened to an attempt once BullMQ has recorded it (so the counts are true). */
function countFailure(metrics: Metrics, logger: Logger, functionName: string, job: Job | undefined, err: Error): void {
  const requestId = job?.id;
  if (err.name === 'UnrecoverableError') {
    const reason = deadLetterReasonOf(parseAttemptRecords(job?.stacktrace), err.message);
    metrics.deadLetters.inc({ function: functionName, reason });
    metrics.asyncDropped.inc({ function: functionName, reason });
    if (job) metrics.asyncAttempts.observe({ function: functionName }, job.attemptsMade);
    logger.warn({ requestId, functionName, attempt: job?.attemptsMade, reason, error: err.message }, 'event dead-lettered');
  } else {
    metrics.retries.inc({ function: functionName });
    logger.info({ requestId, functionName, attempt: job?.attemptsMade, error: err.message }, 'attempt failed; will retry');
  }
}

export interface WorkerOptions {
  /**
   * How long the worker keeps a function's event-invoke configuration before reading it again
   * (default 1000 ms, so a change applies within a second). Tests that change it and at once
   * send events set 0.
   */
  eventInvokeConfigCacheMs?: number;
  /** How often the queues in Redis are scanned and counted (tests shorten them). */
  knownQueues?: { discoverEveryMs?: number; countEveryMs?: number };
  loaders?: FunctionLoadersOptions;
  /** How often a worker facing a full Redis logs how many commands it refused (default 10 s). */
  oomLogIntervalMs?: number;
}

/** The worker's line about a queue whose function it does not load. */
function warnNotLoaded(logger: Logger, { state }: KnownQueueNotice): void {
  const { functionName, queued, loadedByWorker } = state;
  if (loadedByWorker) {
    logger.warn({ functionName, queued, loadedByAnotherWorker: true }, 'events are queued for a function this worker does not load; another worker loads it');
  } else {
    logger.warn(
      { functionName, queued },
      'events are queued for a function no worker loads: they wait until one does, and go to the DLQ as FunctionNotFound once older than its maximum event age',
    );
  }
}

/** Wires the worker from its config: the composition root, shared by `main.ts` and the tests. */
export async function startWorker(config: ResolvedConfig, logger: Logger, options: WorkerOptions = {}): Promise<WorkerService> {
  const redis = requireRedisTarget(config, 'worker');
  const functions = loadFunctions(config.functionsDir, { region: config.region });
  // Assigned below, once what it wires exists; the foundation's callbacks only run after that.
  // eslint-disable-next-line prefer-const
  let workers: FunctionWorkers;
  const { registry, catalog, store, connection, queues, metrics, meters, loaders, known, executor, breakers, leases } = createTierFoundation(
    { config, redis, functions, logger },
    {
      // No `connection` options: workers wait through Redis outages instead of failing commands.
      // A run ended or an environment went: workers waiting for room to start one look again.
      executor: { onRoom: () => workers.all().forEach((w) => w.wakeForRoom()) },
      loaders: options.loaders,
      knownQueues: {
        ...options.knownQueues,
        onNotice: (notice) => notice.kind === 'not-loaded-here' && warnNotLoaded(logger, notice),
        // Too-old events are dead-lettered when no worker loads their function. The sweeper is
        // built on the foundation's queues below; this runs only once `known.start()` has been
        // called, after it exists.
        onRefreshed: (states) => sweepUnloaded(sweeper, store, logger, states),
      },
    },
  );
  // Function destinations are events for the target function, queued from here.
  const producer = new EventProducer(queues);
  const eventInvokeConfigs = new EventInvokeConfigStore(connection, config.queuePrefix, { cacheMs: options.eventInvokeConfigCacheMs });
  const sweeper = new UnloadedEventSweeper({
    queues,
    prefix: config.queuePrefix,
    policyOf: (name) => eventInvokeConfigs.storedPolicyOf(name),
    onDeadLettered: (functionName, _job, reason) => {
      metrics.deadLetters.inc({ function: functionName, reason });
      metrics.asyncDropped.inc({ function: functionName, reason });
    },
  });
  // A full Redis (maxmemory, noeviction) refuses the writes that move events: back off, not spin.
  const oomBackoff = new RedisOomBackoff({ logger, onOomError: () => metrics.redisOomErrors.inc(), logIntervalMs: options.oomLogIntervalMs });
  const destinations = new DestinationQueues({
    connection,
    prefix: config.queuePrefix,
    secret: config.destinationSecret,
    sendEvent: async (arn, requestId, payload) => {
      const target = registry.resolve(arn);
      await producer.enqueue(target.name, requestId, payload, { idempotent: true, version: target.version });
    },
    onFailedAttempt: (functionName, job, error, final) => {
      metrics.destinationFailures.inc({ function: functionName });
      logger.warn(
        { functionName, requestId: job?.data.record.requestContext.requestId, attempt: job?.attemptsMade, final, error: error.message },
        'destination delivery failed',
      );
    },
    onWorkerError: (worker, error) => oomBackoff.handleWorkerError(worker, error),
    onWorkerActive: () => oomBackoff.markWritable(),
  });
  destinations.startDelivering(registry.names());
  // Aborted first thing on close(): what has not started is handed back rather than started.
  const stopping = new AbortController();
  // Status says `queued` for an event whose run has waited WAIT_MARK_AFTER_MS for an environment.
  const waitMarks = new EnvironmentWaitMarks(connection, WAIT_MARK_AFTER_MS);
  const processor = createProcessor({
    registry,
    executor,
    breakers,
    leases,
    metrics,
    meters,
    logger,
    retryBaseDelayMs: config.retryBaseDelayMs,
    policyOf: (fn) => eventInvokeConfigs.policyOf(fn),
    destinationsOf: (fn) => eventInvokeConfigs.destinationsOf(fn),
    deliver: (functionName, url, record) => destinations.enqueue(functionName, url, record),
    holdQueue: async (functionName, ms) => workers.get(functionName)?.rateLimit(ms),
    refreshFunction: (functionName) => catalog.refresh(functionName),
    deletedAt: (functionName) => store.deletedAt(functionName),
    stopping: stopping.signal,
    onRunWaiting: (job) => waitMarks.waiting(job),
    onRunStarted: (job) => {
      workers.get(functionOfQueue(job.queueName) ?? '')?.markStarted(job.token);
      waitMarks.started(job);
    },
  });
  const slots = new SlotPool(config.workerConcurrency);
  const startFunctionWorker = (fn: ResolvedFunction): FunctionWorker => {
    const worker = createFunctionWorker(fn, processor, {
      connection,
      prefix: config.queuePrefix,
      workerConcurrency: config.workerConcurrency,
      slots,
      // Read at each fetch: the function's $LATEST may change while its worker runs.
      startRoom: () => {
        const current = registry.get(fn.name);
        return current ? executor.roomFor(current) : 0;
      },
    });
    // A lost worker's event goes back to the queue and runs again, spending no attempt (the
    // third time it is dead-lettered as WorkerLost instead).
    worker.on('stalled', () => metrics.reruns.inc({ function: fn.name }));
    worker.on('failed', (job, err) => countFailure(metrics, logger, fn.name, job, err));
    worker.on('completed', (job) => void dropFinishedPayload(job));
    worker.on('active', () => oomBackoff.markWritable());
    worker.on('error', (err) => {
      if (!oomBackoff.handleWorkerError(worker, err)) logger.error({ functionName: fn.name, err: err.message }, 'worker error');
    });
    if (fn.source === 'deployed') destinations.startDelivering([fn.name]);
    return worker;
  };
  workers = new FunctionWorkers({
    registry,
    create: startFunctionWorker,
    concurrencyOf: (fn) => workerConcurrencyOf(fn, config.workerConcurrency),
    onRemoved: (functionName) => sweepDeleted(sweeper, store, logger, functionName),
    logger,
  });
  workers.sync();
  // A deployed function came, changed or went: its worker follows; when one came or went, live
  // readers learn at once whether this worker loads it (the heartbeat says it again later).
  catalog.onChange(() => {
    if (workers.sync()) void loaders.announce(() => registry.names());
  });

  const metricsServer = createMetricsServer(
    metrics.registry,
    () => pingRedis(connection),
    () => oomBackoff.notReadyReason(),
  );
  metricsServer.listen(config.metricsPort, config.host);
  await once(metricsServer, 'listening');
  const metricsPort = (metricsServer.address() as AddressInfo).port;
  void checkRedisDurability(connection).then((warnings) => warnings.forEach((w) => logger.warn(w)));
  logger.info({ functions: registry.names(), concurrency: config.workerConcurrency, metricsPort, redis: describeRedisTarget(redis) }, 'invoq worker running');
  // Said before the first count, so this worker's own functions count as loaded. Neither waits
  // on a Redis that is away (a worker starts without one): they run once it is back.
  // The deployed functions are learned in the background (the worker starts without Redis).
  void catalog.start();
  const started = loaders.announce(() => registry.names()).then(() => known.start());
  started.catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'could not read the queues in Redis yet; will try again'));

  return {
    metricsServer,
    metricsPort,
    slots,
    async close() {
      // Stop taking events; let running ones finish within the grace period. Past it, stop
      // waiting: what still runs is handed back by BullMQ's stalled check once its lock expires
      // (that re-run spends no attempt). close(true) cannot cut the wait short: once close() has
      // begun, BullMQ returns the same promise. Events fetched but not started (waiting for an
      // environment) are handed back at once, for another worker to run now.
      //
      // With Redis away, nothing running can be marked finished anyway, and every wait on the
      // shared connection (BullMQ's fetches, the withdraw below) lasts for good: seen on a Cluster
      // whose nodes were all gone, and with a Redis that went away as the stop began (after a
      // ping had found it). So the connection is ended, now or the moment it closes while the
      // worker stops. What was running is handed back by the stalled check once Redis returns.
      const endConnection = () => connection.disconnect();
      connection.once('close', endConnection);
      const graceful = Promise.all([workers.close(), destinations.stopDelivering()]);
      await catalog.close();
      sweeper.stop();
      stopping.abort();
      endBlockingConnections(connection);
      const reachable = await pingRedis(connection).then(
        () => true,
        () => false,
      );
      if (!reachable) endConnection();
      // Readers learn at once that this worker no longer runs its functions' events (with Redis
      // away this only stops the heartbeat; the word lapses by itself).
      await loaders.withdraw();
      await known.close();
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => (timer = setTimeout(() => resolve('expired'), WORKER_SHUTDOWN_GRACE_MS)));
      if ((await Promise.race([graceful, expired])) === 'expired') {
        logger.warn('grace period over: running events will be handed back to the queue');
      }
      clearTimeout(timer);
      oomBackoff.close();
      await destinations.close();
      breakers.shutdown();
      leases.close();
      await executor.close();
      await queues.close();
      await new Promise((resolve) => metricsServer.close(resolve));
      connection.off('close', endConnection);
      await closeRedis(connection);
    },
  };
}
