import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type InvocationType = 'sync' | 'async';

/** 1 ms to ~15 min: functions run up to 900 s and events can wait for minutes. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900];
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5];

/** Every metric family of the contract, declared at start on one registry per process. */
export function createMetrics(version: string) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client's nodejs_active_*_total gauges break `promtool check metrics` (a gauge named _total).
  for (const name of ['nodejs_active_resources_total', 'nodejs_active_handles_total', 'nodejs_active_requests_total']) {
    registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const fnType = ['function', 'type'] as const;
  const metrics = {
    registry,
    invocations: new Counter({
      name: 'invoq_invocations_total',
      help: 'Times function code ran (success or function error), as Lambda Invocations. type="sync" is counted by the API, type="async" by the worker; sum over all instances.',
      labelNames: fnType,
      registers,
    }),
    errors: new Counter({
      name: 'invoq_errors_total',
      help: 'Invocations that ended in a function error, timeout or crash, as Lambda Errors. type="sync" is counted by the API, type="async" by the worker; sum over all instances.',
      labelNames: fnType,
      registers,
    }),
    throttles: new Counter({
      name: 'invoq_throttles_total',
      help: 'Requests refused with TooManyRequestsException, as Lambda Throttles. Sync calls and events refused at the queue cap are counted by the API, events held for reserved concurrency by the worker; sum over all instances.',
      labelNames: ['function', 'type', 'reason'] as const,
      registers,
    }),
    duration: new Histogram({
      name: 'invoq_duration_seconds',
      help: 'Time spent in function code per invocation, as Lambda Duration. type="sync" is observed by the API, type="async" by the worker.',
      labelNames: fnType,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    concurrent: new Gauge({
      name: 'invoq_concurrent_executions',
      help: 'Invocations running now in this process, as Lambda ConcurrentExecutions.',
      labelNames: fnType,
      registers,
    }),
    asyncReceived: new Counter({
      name: 'invoq_async_events_received_total',
      help: 'Events accepted with 202, as Lambda AsyncEventsReceived. Counted by the API that accepted them (0 on the worker); sum over all instances.',
      labelNames: ['function'] as const,
      registers,
    }),
    asyncEventAge: new Histogram({
      name: 'invoq_async_event_age_seconds',
      help: 'Time from receipt of an event to the start of each attempt, as Lambda AsyncEventAge. Observed by the worker (empty on the API).',
      labelNames: ['function'] as const,
      buckets: DURATION_BUCKETS,
      registers,
    }),
    asyncDropped: new Counter({
      name: 'invoq_async_events_dropped_total',
      help: 'Events that left the queue without succeeding, as Lambda AsyncEventsDropped. Counted by the worker (0 on the API); sum over all instances.',
      labelNames: ['function', 'reason'] as const,
      registers,
    }),
    asyncAttempts: new Histogram({
      name: 'invoq_async_attempts',
      help: 'Attempts per finished event. Observed by the worker (empty on the API).',
      labelNames: ['function'] as const,
      buckets: ATTEMPT_BUCKETS,
      registers,
    }),
    reruns: new Counter({
      name: 'invoq_async_reruns_total',
      help: 'Events handed back to the queue because the worker running them was lost: each runs again, spending no attempt (the third time it is dead-lettered as WorkerLost instead). Counted by the worker (0 on the API); sum over all instances.',
      labelNames: ['function'] as const,
      registers,
    }),
    retries: new Counter({
      name: 'invoq_retries_total',
      help: 'Failed attempts scheduled to run again. Counted by the worker (0 on the API); sum over all instances.',
      labelNames: ['function'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'invoq_dead_letter_total',
      help: 'Events moved to the dead-letter queue. Counted by the worker (0 on the API); sum over all instances.',
      labelNames: ['function', 'reason'] as const,
      registers,
    }),
    destinationFailures: new Counter({
      name: 'invoq_destination_delivery_failures_total',
      help: 'Failed deliveries to onSuccess/onFailure destinations, as Lambda DestinationDeliveryFailures. Counted by the worker (0 on the API); sum over all instances.',
      labelNames: ['function'] as const,
      registers,
    }),
    queueJobs: new Gauge({
      name: 'invoq_queue_jobs',
      help: 'Events in each queue state (same value from every replica: aggregate with max).',
      labelNames: ['function', 'state'] as const,
      registers,
    }),
    queueOldestAge: new Gauge({
      name: 'invoq_queue_oldest_age_seconds',
      help: 'Age of the oldest event waiting to run.',
      labelNames: ['function'] as const,
      registers,
    }),
    dlqDepth: new Gauge({
      name: 'invoq_dlq_depth',
      help: 'Events in the dead-letter queue (same value from every replica: aggregate with max).',
      labelNames: ['function'] as const,
      registers,
    }),
    dlqOldestAge: new Gauge({
      name: 'invoq_dlq_oldest_age_seconds',
      help: 'Age of the oldest dead-letter entry.',
      labelNames: ['function'] as const,
      registers,
    }),
    unloadedFunctionEvents: new Gauge({
      name: 'invoq_unloaded_function_events',
      help: 'Events queued for a function no live worker loads: they will not run until one does (or they are dead-lettered as FunctionNotFound past their maximum event age). Same value from every replica: aggregate with max.',
      labelNames: ['function'] as const,
      registers,
    }),
    redisMemoryUsedRatio: new Gauge({
      name: 'invoq_redis_memory_used_ratio',
      help: "The queue's Redis memory in use over its maxmemory (the fullest master of a Cluster); 0 when maxmemory is not set. Read by the API every 5 s, and every 250 ms while events arrive (0 on the worker); Event is refused past INVOQ_MAX_REDIS_MEMORY_PERCENT. Aggregate with max.",
      registers,
    }),
    redisOomErrors: new Counter({
      name: 'invoq_redis_oom_errors_total',
      help: 'Redis commands refused with OOM (maxmemory reached under noeviction) while moving events: the worker backs off and reports not ready. Counted by the worker (0 on the API); sum over all instances.',
      registers,
    }),
    circuitState: new Gauge({
      name: 'invoq_circuit_state',
      help: 'Circuit breaker state per function: 0 closed, 1 open, 2 half-open.',
      labelNames: ['function'] as const,
      registers,
    }),
    buildInfo: new Gauge({ name: 'invoq_build_info', help: 'Always 1; labels say what runs.', labelNames: ['version', 'node'] as const, registers }),
  };
  metrics.buildInfo.set({ version, node: process.version }, 1);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Starts every per-function series at zero so dashboards and rate() see them from the start. */
export function initFunctionSeries(metrics: Metrics, functionNames: readonly string[]): void {
  for (const fn of functionNames) {
    for (const type of ['sync', 'async'] as const) {
      metrics.invocations.inc({ function: fn, type }, 0);
      metrics.errors.inc({ function: fn, type }, 0);
      metrics.concurrent.set({ function: fn, type }, 0);
    }
    metrics.asyncReceived.inc({ function: fn }, 0);
    metrics.retries.inc({ function: fn }, 0);
    metrics.reruns.inc({ function: fn }, 0);
    metrics.circuitState.set({ function: fn }, 0);
  }
}
