import path from 'node:path';
import { ConfigError } from '../config/config-error';
import { resolveSandbox } from '../execution/sandbox';
import type { RedisTarget, ResolvedConfig } from '../config/load-config';
import { Executor } from '../execution/executor';
import type { ExecutorOptions } from '../execution/executor-options';
import { CodeCache } from '../deployment/code-cache';
import { LAMBDA_CODE_LIMITS } from '../deployment/code-archive';
import { DeployedCatalog } from '../deployment/deployed-catalog';
import { FunctionStore } from '../deployment/function-store';
import { FunctionRegistry } from '../functions/function-registry';
import type { ResolvedFunction } from '../functions/resolved-function';
import type { Logger } from '../logging/logger';
import { createMeterCache, type FunctionMeters } from '../metrics/function-meters';
import { createMetrics, initFunctionSeries, type InvocationType, type Metrics } from '../metrics/metrics';
import { registerQueueStats } from '../metrics/queue-stats-collector';
import { CIRCUIT_STATE, CircuitBreakers } from '../protection/circuit-breakers';
import { ConcurrencyLeases } from '../protection/concurrency-leases';
import { EventQueues } from '../queue/event-queues';
import { FunctionLoaders, type FunctionLoadersOptions } from '../status/function-loaders';
import { KnownQueues, type KnownQueuesOptions } from '../status/known-queues';
import { createRedisConnection, type RedisClient, type RedisConnectionOptions } from '../redis/redis-connection';
import { INVOQ_VERSION } from '../version';

/** What a tier needs before it can be wired: its config, Redis, its folder functions and its logger. */
export interface TierFoundationDeps {
  config: ResolvedConfig;
  /** `config.redis`, required (see `requireRedisTarget`). */
  redis: RedisTarget;
  /** The folder functions (INVOQ_FUNCTIONS_DIR), loaded at start. */
  functions: readonly ResolvedFunction[];
  logger: Logger;
}

/** `config.redis`, or a `ConfigError` naming the variables to set for `tier` run alone. */
export function requireRedisTarget(config: ResolvedConfig, tier: 'API' | 'worker'): RedisTarget {
  if (!config.redis)
    throw new ConfigError(`REDIS_URL: not set, nor REDIS_CLUSTER_NODES or REDIS_SENTINELS (npm start sets REDIS_URL; set one when running the ${tier} alone)`);
  return config.redis;
}

/** What differs between the API's foundation and the worker's. */
export interface TierFoundationOptions {
  /** The API fails fast and pipelines; the worker waits through Redis outages (the default). */
  connection?: RedisConnectionOptions;
  /** The executor's options besides the config's (region, maxEnvironments) and the late-error log. */
  executor?: Omit<ExecutorOptions, 'region' | 'maxEnvironments' | 'onLateError'>;
  /** A deadline for lease calls (the API's, so a request never waits on Redis); default none. */
  leaseDeadlineMs?: number;
  loaders?: FunctionLoadersOptions;
  /** The known queues' timing (tests shorten it) and the tier's own notices and sweeps. */
  knownQueues?: Omit<KnownQueuesOptions, 'redis' | 'prefix' | 'loaded' | 'loaders'>;
}

/** The parts both tiers are built on, wired alike; each tier closes them in its own order. */
export interface TierFoundation {
  /** The folder functions and the deployed ones, kept in step with Redis once `catalog` started. */
  registry: FunctionRegistry;
  /** The deployed functions as this process knows them; `start()` is the tier's to call. */
  catalog: DeployedCatalog;
  store: FunctionStore;
  codeCache: CodeCache;
  connection: RedisClient;
  queues: EventQueues;
  metrics: Metrics;
  meters: (functionName: string, type: InvocationType) => FunctionMeters;
  loaders: FunctionLoaders;
  /** Every function queue in Redis that holds events, loaded here or not; not yet started. */
  known: KnownQueues;
  executor: Executor;
  breakers: CircuitBreakers;
  leases: ConcurrencyLeases;
}

/**
 * Builds what the API and the worker share: the Redis connection, the event queues, the metrics
 * (every function's series, the queue gauges), the known queues, the executor (its late errors
 * logged), the circuit breakers (their state a gauge and a log line) and the concurrency leases.
 * No I/O waits here: Redis may be away when a tier starts.
 */
export function createTierFoundation({ config, redis, functions, logger }: TierFoundationDeps, options: TierFoundationOptions = {}): TierFoundation {
  const connection = createRedisConnection(redis, options.connection);
  const store = new FunctionStore(connection, config.queuePrefix);
  // One folder per prefix: installs sharing a machine never prune each other's code.
  const codeCache = new CodeCache({
    directory: path.join(config.codeCacheDir, config.queuePrefix),
    limits: { ...LAMBDA_CODE_LIMITS, maxZippedBytes: config.maxCodeBytes },
  });
  const catalog = new DeployedCatalog({ store, codeCache, region: config.region, logger });
  const registry = new FunctionRegistry(functions, config.region, catalog);
  const queues = new EventQueues({
    connection,
    prefix: config.queuePrefix,
    statusRetentionSeconds: config.statusRetentionSeconds,
    dlqRetentionSeconds: config.dlqRetentionSeconds,
  });
  const metrics = createMetrics(INVOQ_VERSION);
  initFunctionSeries(metrics, registry.names());
  // Every queue in Redis that holds events is known, loaded here or not: its events' status, its
  // DLQ entries and its gauges stay visible.
  const loaders = new FunctionLoaders(connection, config.queuePrefix, options.loaders);
  const known = new KnownQueues({
    redis: connection,
    prefix: config.queuePrefix,
    loaded: () => registry.names(),
    loaders,
    discoverEveryMs: config.queueDiscoverySeconds * 1000,
    ...options.knownQueues,
  });
  registerQueueStats(metrics, queues, known);
  const { sandbox, notice } = resolveSandbox(config.processSandbox);
  if (notice) logger.warn(notice);
  const executor = new Executor({
    region: config.region,
    sandbox,
    maxEnvironments: config.maxEnvironments,
    ...options.executor,
    onLateError: (fn, requestId, error) =>
      logger.error(
        { functionName: fn.name, requestId, errorType: error.errorType, errorMessage: error.errorMessage },
        'late error after the run answered; environment replaced',
      ),
  });
  const breakers = new CircuitBreakers({
    onStateChange: (functionName, state) => {
      metrics.circuitState.set({ function: functionName }, CIRCUIT_STATE[state]);
      logger.warn({ functionName, state }, 'circuit breaker changed state');
    },
  });
  const leaseTiming = options.leaseDeadlineMs === undefined ? {} : { deadlineMs: options.leaseDeadlineMs };
  const leases = new ConcurrencyLeases(connection, config.queuePrefix, leaseTiming);
  // A deployed function changed: its series exist from now on, and environments of code or
  // configuration no longer current are retired (busy ones finish their run first). A deleted
  // one's queue is counted at once, so its events' status and DLQ entries stay readable.
  catalog.onChange((name) => {
    if (registry.get(name)) initFunctionSeries(metrics, [name]);
    else void known.remember(name).catch(() => undefined);
    const current = registry.executionKeys();
    executor.retire((key) => current.has(key));
  });
  return { registry, catalog, store, codeCache, connection, queues, metrics, meters: createMeterCache(metrics), loaders, known, executor, breakers, leases };
}
