import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CIRCUIT_STATE,
  CircuitBreakers,
  ConcurrencyLeases,
  ConfigError,
  DeadLetterStore,
  EventInvokeConfigStore,
  EventProducer,
  EventQueues,
  Executor,
  FunctionRegistry,
  INVOQ_VERSION,
  InvocationStatusReader,
  Invoker,
  QueuedEventsCap,
  RouteTable,
  checkRedisDurability,
  closeRedis,
  pingRedis,
  REQUEST_REDIS_DEADLINE_MS,
  createMeterCache,
  createMetrics,
  createRedisConnection,
  describeRedisTarget,
  initFunctionSeries,
  loadFunctions,
  registerQueueStats,
  waitForRedis,
  type Logger,
  type ResolvedConfig,
} from '@invoq/core';
import { createApp } from './app';
import { answerClientError } from './http/client-error';
import { createQueueBoard } from './routes/queue-board';

/** How long a stop waits for requests in flight before closing their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

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

export interface ApiService {
  server: Server;
  port: number;
  /** Stops accepting, finishes what it holds (up to a grace period), closes everything. */
  close(): Promise<void>;
}

/** Wires the API from its config: the composition root, shared by `main.ts` and the tests. */
export async function startApi(config: ResolvedConfig, logger: Logger, limits: SlowClientLimits = SLOW_CLIENT_LIMITS): Promise<ApiService> {
  if (!config.redis) throw new ConfigError('REDIS_URL: not set, nor REDIS_CLUSTER_NODES or REDIS_SENTINELS (npm start sets REDIS_URL; set one when running the API alone)');
  const registry = new FunctionRegistry(loadFunctions(config.functionsDir, { region: config.region }), config.region);
  // Colliding routes, or routes on invoq's own paths, stop the start here.
  const routes = new RouteTable(registry.list());
  const names = registry.list().map((f) => f.name);
  const connection = createRedisConnection(config.redis, { failFast: true, autoPipelining: true });
  const queues = new EventQueues({
    connection,
    prefix: config.queuePrefix,
    statusRetentionSeconds: config.statusRetentionSeconds,
    dlqRetentionSeconds: config.dlqRetentionSeconds,
  });
  const metrics = createMetrics(INVOQ_VERSION);
  initFunctionSeries(metrics, names);
  registerQueueStats(metrics, queues, names);
  const executor = new Executor({
    region: config.region,
    maxEnvironments: config.maxEnvironments,
    // Sync calls gained nothing from a second environment for CPU-light work; memory did.
    unconditionalEnvironments: 1,
    onLateError: (fn, requestId, error) =>
      logger.error({ functionName: fn.name, requestId, errorType: error.errorType, errorMessage: error.errorMessage }, 'late error after the run answered; environment replaced'),
  });
  const statusReader = new InvocationStatusReader(queues, () => names);
  const queuedEventsCap = new QueuedEventsCap(queues, names, config.maxQueuedEvents);
  const breakers = new CircuitBreakers({
    onStateChange: (functionName, state) => {
      metrics.circuitState.set({ function: functionName }, CIRCUIT_STATE[state]);
      logger.warn({ functionName, state }, 'circuit breaker changed state');
    },
  });
  const leases = new ConcurrencyLeases(connection, config.queuePrefix, { deadlineMs: REQUEST_REDIS_DEADLINE_MS });
  const invoker = new Invoker({
    executor,
    breakers,
    leases,
    producer: new EventProducer(queues, { deadlineMs: REQUEST_REDIS_DEADLINE_MS }),
    queuedEventsCap,
    metrics,
    meters: createMeterCache(metrics),
    logger,
    syncWaitMs: config.syncWaitMs,
    asyncPayloadLimitBytes: config.asyncPayloadLimitBytes,
  });
  const app = createApp({
    config,
    registry,
    routes,
    invoker,
    deadLetters: new DeadLetterStore(queues, () => names, statusReader),
    statusReader,
    queueBoard: createQueueBoard(names.map((name) => [name, queues.get(name)])),
    eventInvokeConfigs: new EventInvokeConfigStore(connection, config.queuePrefix),
    metrics,
    logger,
    pingRedis: () => pingRedis(connection),
  });
  // Give Redis a moment so the first events are not refused; without it the API still starts
  // (sync invokes need no Redis) and Event answers 503 until Redis is back.
  await waitForRedis(connection, 2000)
    .then(() => queuedEventsCap.refresh())
    .catch(() => logger.warn('Redis is not reachable yet: Event invokes answer 503 until it is'));
  void checkRedisDurability(connection).then((warnings) => warnings.forEach((w) => logger.warn(w)));

  const server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // How often Node checks those deadlines (its default, 30 s, would let a slow client overstay).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs / 2),
  }, app);
  server.on('clientError', answerClientError);
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  logger.info({ host: config.host, port, auth: config.auth.enabled ? 'on' : 'off', redis: describeRedisTarget(config.redis), functions: names, routes: routes.size }, 'invoq API listening');

  return {
    server,
    port,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      await closed;
      clearTimeout(grace);
      breakers.shutdown();
      leases.close();
      await executor.close();
      await queues.close();
      await closeRedis(connection);
    },
  };
}
