import { InvoqError } from '../errors';
import type { Executor } from '../execution/executor';
import type { InvocationOutcome, InvocationRequest } from '../execution/invocation';
import type { ResolvedFunction } from '../functions/resolved-function';
import { logInvocation } from '../logging/invocation-log';
import type { FunctionMeters } from '../metrics/function-meters';
import type { InvocationType, Metrics } from '../metrics/metrics';
import type { Logger } from '../logging/logger';
import type { CircuitBreakers } from '../protection/circuit-breakers';
import { reservedConcurrencyExceeded, type ConcurrencyLeases } from '../protection/concurrency-leases';
import type { QueuedEventsCap } from '../protection/queued-events-cap';
import type { RedisMemoryHeadroom } from '../protection/redis-memory-headroom';
import { idempotentRequestId, type EventProducer } from '../queue/event-producer';
import { checkJsonPayload } from './json-payload';

export interface InvokerDeps {
  executor: Executor;
  breakers: CircuitBreakers;
  leases: ConcurrencyLeases;
  producer: EventProducer;
  queuedEventsCap: QueuedEventsCap;
  /** The byte budget: Redis's memory against its maxmemory. */
  redisMemory: RedisMemoryHeadroom;
  metrics: Metrics;
  meters: (functionName: string, type: InvocationType) => FunctionMeters;
  logger: Logger;
  /** INVOQ_SYNC_WAIT_MS: how long a sync run may wait for a free environment. */
  syncWaitMs: number;
  /** INVOQ_ASYNC_PAYLOAD_LIMIT, bytes. */
  asyncPayloadLimitBytes: number;
}

/**
 * The API's two ways to invoke a function, shared by Lambda's Invoke and the gateway routes:
 * inline (reserved concurrency, circuit breaker, metrics, the invocation log line) and queued
 * (payload checks, the queue's byte budget and cap, idempotency, the enqueue). Throws `InvoqError`s; HTTP is the
 * caller's business.
 */
export class Invoker {
  constructor(private readonly deps: InvokerDeps) {}

  /** Runs `fn` now and returns its outcome (a function error is an outcome, not a throw). */
  async runSync(fn: ResolvedFunction, request: InvocationRequest): Promise<InvocationOutcome> {
    const { executor, breakers, leases, metrics, meters, logger, syncWaitMs } = this.deps;
    // Here the body is checked on this thread: an http function has no environment to parse it,
    // and a bad body must not spend a half-open breaker's one trial call.
    if (fn.config.runtime === 'http' || breakers.isHalfOpen(fn)) checkJsonPayload(request.payload);
    // reservedConcurrency holds across every process (Redis leases); unlimited functions skip it.
    const release = await leases.tryAcquire(fn);
    if (!release) {
      metrics.throttles.inc({ function: fn.name, type: 'sync', reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
      throw reservedConcurrencyExceeded();
    }
    const m = meters(fn.name, 'sync');
    m.concurrent.inc();
    let outcome: InvocationOutcome;
    try {
      // An open breaker answers at once, without touching the failing dependency.
      outcome = await breakers.run(fn, () => executor.invoke(fn, request, syncWaitMs));
    } catch (e) {
      if (e instanceof InvoqError && e.code === 'THROTTLED') metrics.throttles.inc({ function: fn.name, type: 'sync', reason: e.reason ?? 'unknown' });
      throw e;
    } finally {
      m.concurrent.dec();
      await release();
    }
    m.invocations.inc();
    m.duration.observe(outcome.durationMs / 1000);
    if (outcome.functionError) m.errors.inc();
    logInvocation(logger, fn, outcome, { type: 'sync' });
    return outcome;
  }

  /**
   * Queues an event for `fn` and returns its request id: `requestId`, or with an idempotency key
   * the id derived from it (a repeat answers with the first event's id and runs nothing twice).
   * `traceId` is what every attempt of the event will see as `_X_AMZN_TRACE_ID`.
   */
  async enqueue(fn: ResolvedFunction, requestId: string, payload: string, options: { idempotencyKey?: string; traceId?: string } = {}): Promise<string> {
    const { idempotencyKey, traceId } = options;
    const { producer, queuedEventsCap, redisMemory, metrics, asyncPayloadLimitBytes } = this.deps;
    const bytes = Buffer.byteLength(payload);
    if (bytes > asyncPayloadLimitBytes) {
      throw new InvoqError('PAYLOAD_TOO_LARGE', `${bytes} byte payload is too large for the Event invocation type (limit ${asyncPayloadLimitBytes} bytes)`);
    }
    checkJsonPayload(payload);
    try {
      // Memory first: an event it refuses must not count against the cap's tally.
      redisMemory.admit(bytes);
      queuedEventsCap.admit();
    } catch (e) {
      metrics.throttles.inc({ function: fn.name, type: 'async', reason: (e as InvoqError).reason ?? 'unknown' });
      throw e;
    }
    let id = requestId;
    if (idempotencyKey !== undefined) {
      if (idempotencyKey.length === 0 || idempotencyKey.length > 256) throw new InvoqError('INVALID_PARAMETER', 'Idempotency-Key must be 1 to 256 characters');
      id = idempotentRequestId(fn.name, idempotencyKey);
    }
    await producer.enqueue(fn.name, id, payload, { idempotent: idempotencyKey !== undefined, traceId });
    metrics.asyncReceived.inc({ function: fn.name });
    return id;
  }
}
