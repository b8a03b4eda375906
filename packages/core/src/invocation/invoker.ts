import { InvoqError } from '../errors';
import type { InvocationOutcome, InvocationRequest } from '../execution/invocation';
import type { ResolvedFunction } from '../functions/resolved-function';
import { reservedConcurrencyExceeded } from '../protection/concurrency-leases';
import type { QueuedEventsCap } from '../protection/queued-events-cap';
import type { RedisMemoryHeadroom } from '../protection/redis-memory-headroom';
import { idempotentRequestId, type EventProducer } from '../queue/event-producer';
import { InvocationPipeline, type InvocationPipelineDeps } from './invocation-pipeline';
import { checkJsonPayload } from './json-payload';

export interface InvokerDeps extends InvocationPipelineDeps {
  producer: EventProducer;
  queuedEventsCap: QueuedEventsCap;
  /** The byte budget: Redis's memory against its maxmemory. */
  redisMemory: RedisMemoryHeadroom;
  /** INVOQ_SYNC_WAIT_MS: how long a sync run may wait for a free environment. */
  syncWaitMs: number;
  /** INVOQ_ASYNC_PAYLOAD_LIMIT, bytes. */
  asyncPayloadLimitBytes: number;
}

/**
 * The API's two ways to invoke a function, shared by Lambda's Invoke and the gateway routes:
 * inline (through the `InvocationPipeline`, a refusal thrown as its `InvoqError`) and queued
 * (payload checks, the queue's byte budget and cap, idempotency, the enqueue). Throws `InvoqError`s; HTTP is the
 * caller's business.
 */
export class Invoker {
  private readonly pipeline: InvocationPipeline;

  constructor(private readonly deps: InvokerDeps) {
    this.pipeline = new InvocationPipeline(deps);
  }

  /** Runs `fn` now and returns its outcome (a function error is an outcome, not a throw). */
  async runSync(fn: ResolvedFunction, request: InvocationRequest): Promise<InvocationOutcome> {
    const result = await this.pipeline.run(fn, request, { type: 'sync', waitMs: this.deps.syncWaitMs, checkPayload: true });
    switch (result.status) {
      case 'completed':
        return result.outcome;
      case 'lease-refused':
        throw reservedConcurrencyExceeded();
      case 'circuit-open':
      case 'not-started':
        throw result.error;
    }
  }

  /**
   * Queues an event for `fn` and returns its request id: `requestId`, or with an idempotency key
   * the id derived from it (a repeat answers with the first event's id and runs nothing twice).
   * `traceId` is what every attempt of the event will see as `_X_AMZN_TRACE_ID`. The event keeps
   * `fn`'s version (an alias is resolved now, once): every attempt, and a redrive, runs it.
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
    await producer.enqueue(fn.name, id, payload, { idempotent: idempotencyKey !== undefined, traceId, version: fn.version });
    metrics.asyncReceived.inc({ function: fn.name });
    return id;
  }
}
