import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  API_SHUTDOWN_GRACE_MS,
  FunctionDeployments,
  DeadLetterStore,
  EventInvokeConfigStore,
  EventProducer,
  InvocationStatusReader,
  Invoker,
  QueuedEventsCap,
  RedriveRunner,
  RedriveStore,
  RedisMemoryHeadroom,
  RouteTable,
  checkRedisDurability,
  createTierFoundation,
  requireRedisTarget,
  closeRedis,
  pingRedis,
  REQUEST_REDIS_DEADLINE_MS,
  describeRedisTarget,
  loadFunctions,
  waitForRedis,
  type FunctionLoadersOptions,
  type KnownQueueNotice,
  type Logger,
  type ResolvedConfig,
} from '@invoq/core';
import { createApp } from './app';
import { answerClientError } from './http/client-error';
import { expressMessageClasses } from './http/express-messages';
import { createQueueBoard } from './routes/queue-board';

/** How often Redis's memory is read for `invoq_redis_memory_used_ratio` when no event comes. */
const MEMORY_GAUGE_REFRESH_MS = 5000;

/**
 * Slow clients: the headers must arrive within `headersTimeoutMs` and the whole request within
 * `requestTimeoutMs` (Node answers 408 and closes), so a client trickling bytes cannot hold a
 * connection and its buffers open. Answers may take as long as the function's timeout.
 */
export interface SlowClientLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}
const SLOW_CLIENT_LIMITS: SlowClientLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 };

/** Test hooks: how often the queues in Redis are scanned and counted, and the loaders' timing. */
export interface ApiOptions {
  knownQueues?: { discoverEveryMs?: number; countEveryMs?: number; noWorkerGraceMs?: number };
  loaders?: FunctionLoadersOptions;
}

/** How long the start waits for the first look at the queues in Redis (it goes on after). */
const FIRST_DISCOVERY_WAIT_MS = 5000;

/** The API's line about a queue whose events will not run, or that it does not serve. */
function warnQueue(logger: Logger, { kind, state }: KnownQueueNotice): void {
  const { functionName, queued, loadedByWorker } = state;
  if (kind === 'no-worker') {
    logger.warn({ functionName, queued }, 'events are queued for a function this API loads but no worker does: they wait until a worker loads it');
  } else {
    logger.warn(
      { functionName, queued, loadedByWorker },
      'events are queued for a function this API does not load: their status and DLQ entries are still served here',
    );
  }
}

export interface ApiService {
  server: Server;
  port: number;
  /** Stops accepting, finishes what it holds (up to a grace period), closes everything. */
  close(): Promise<void>;
}

/** Wires the API from its config: the composition root, shared by `main.ts` and the tests. */
export async function startApi(
  config: ResolvedConfig,
  logger: Logger,
  limits: SlowClientLimits = SLOW_CLIENT_LIMITS,
  options: ApiOptions = {},
): Promise<ApiService> {
  const redis = requireRedisTarget(config, 'API');
  const functions = loadFunctions(config.functionsDir, { region: config.region });
  // Colliding routes, or routes on invoq's own paths, stop the start here.
  const routes = new RouteTable(functions);
  const { registry, catalog, store, codeCache, connection, queues, metrics, meters, loaders, known, executor, breakers, leases } = createTierFoundation(
    { config, redis, functions, logger },
    {
      connection: { failFast: true, autoPipelining: true },
      // Sync calls gained nothing from a second environment for CPU-light work; memory did.
      executor: { unconditionalEnvironments: 1 },
      leaseDeadlineMs: REQUEST_REDIS_DEADLINE_MS,
      loaders: options.loaders,
      knownQueues: { ...options.knownQueues, onNotice: (notice) => warnQueue(logger, notice) },
    },
  );
  const statusReader = new InvocationStatusReader(
    queues,
    () => known.names(),
    (name) => loaders.isLoaded(name),
  );
  const queuedEventsCap = new QueuedEventsCap(queues, () => known.names(), config.maxQueuedEvents);
  const redisMemory = new RedisMemoryHeadroom(connection, {
    maxPercent: config.maxRedisMemoryPercent,
    onReading: (ratio) => metrics.redisMemoryUsedRatio.set(ratio),
  });
  const invoker = new Invoker({
    executor,
    breakers,
    leases,
    producer: new EventProducer(queues, { deadlineMs: REQUEST_REDIS_DEADLINE_MS }),
    queuedEventsCap,
    redisMemory,
    metrics,
    meters,
    logger,
    syncWaitMs: config.syncWaitMs,
    asyncPayloadLimitBytes: config.asyncPayloadLimitBytes,
  });
  const deadLetters = new DeadLetterStore(queues, () => known.names(), statusReader);
  // Bulk redrives run here, in the API, not in the worker: they are the DLQ's admin work (Redis
  // calls, no function runs), and the worker's slots are for running events. Every replica runs
  // one; a function's redrive is run by whichever holds its lease in Redis.
  const redrives = new RedriveRunner(new RedriveStore(queues, config.dlqRetentionSeconds), deadLetters, () => known.names(), {
    maxWaiting: config.redriveMaxWaiting,
    logger,
  });
  // Lambda's management API: functions deployed at run time, kept in Redis; a zip is checked by
  // extracting it into this host's code cache before the change is accepted.
  const deployments = new FunctionDeployments({
    store,
    prepareCode: (sha256, zip) => codeCache.directoryFor(sha256, () => Promise.resolve(zip)),
    isFolderFunction: (name) => registry.isFolderFunction(name),
    region: config.region,
    maxZippedBytes: config.maxCodeBytes,
  });
  // The dashboard shows every function served here, deployed ones as they come and go.
  let boardNames = registry.names();
  const queueBoard = createQueueBoard(boardNames.map((name) => [name, queues.get(name)]));
  catalog.onChange(() => {
    // Only a function coming or going changes the board (an update or a tag does not).
    const names = registry.names();
    if (names.join() === boardNames.join()) return;
    boardNames = names;
    queueBoard.show(names.map((name) => [name, queues.get(name)]));
  });
  const app = createApp({
    config,
    registry,
    routes,
    invoker,
    deadLetters,
    redrives,
    isKnownFunction: (name) => known.has(name),
    statusReader,
    queueBoard: queueBoard.router,
    eventInvokeConfigs: new EventInvokeConfigStore(connection, config.queuePrefix),
    metrics,
    logger,
    pingRedis: () => pingRedis(connection),
    deployments,
    functionStore: store,
  });
  // Give Redis a moment so the first events are not refused; without it the API still starts
  // (sync invokes need no Redis) and Event answers 503 until Redis is back.
  const reachable = await waitForRedis(connection, 2000)
    .then(() => Promise.all([queuedEventsCap.refresh(), redisMemory.refresh()]))
    .then(
      () => true,
      () => false,
    );
  if (!reachable) logger.warn('Redis is not reachable yet: Event invokes answer 503 until it is');
  if (redisMemory.lastReading?.maxBytes === 0)
    logger.info('Redis has no maxmemory: only INVOQ_MAX_QUEUED_EVENTS bounds the queue (set maxmemory for a byte budget)');
  // The first look at the queues in Redis (this connection fails at once while Redis is away:
  // the background refresh tries again). Status and the DLQ know the other queues once it is
  // done; a long SCAN goes on after the start.
  // The deployed functions are read before the API listens, so it serves them from its first
  // request (with Redis away it listens without them, and learns them once Redis is back).
  const discovered = Promise.all([known.start().catch(() => undefined), catalog.start()]);
  let timer: NodeJS.Timeout | undefined;
  if (reachable) await Promise.race([discovered, new Promise((resolve) => (timer = setTimeout(resolve, FIRST_DISCOVERY_WAIT_MS)))]);
  clearTimeout(timer);
  void checkRedisDurability(connection).then((warnings) => warnings.forEach((w) => logger.warn(w)));
  // Unfinished redrives (of an API that stopped or died) resume from their cursor.
  redrives.start();
  // Events refresh the reading as they come; this keeps the gauge true while none do.
  const memoryReadTimer = setInterval(() => void redisMemory.refresh(), MEMORY_GAUGE_REFRESH_MS);
  memoryReadTimer.unref();

  const server = createServer(
    {
      ...expressMessageClasses(app),
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      // How often Node checks those deadlines (its default, 30 s, would let a slow client overstay).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs / 2),
    },
    app,
  );
  server.on('clientError', answerClientError);
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  logger.info(
    { host: config.host, port, auth: config.auth.enabled ? 'on' : 'off', redis: describeRedisTarget(redis), functions: registry.names(), routes: routes.size },
    'invoq API listening',
  );

  return {
    server,
    port,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), API_SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      // Hands its redrives' leases back, so another replica carries on at once.
      await redrives.close();
      clearInterval(memoryReadTimer);
      breakers.shutdown();
      leases.close();
      await known.close();
      await catalog.close();
      await executor.close();
      await queues.close();
      await closeRedis(connection);
    },
  };
}
