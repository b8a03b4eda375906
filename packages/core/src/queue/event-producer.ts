import { createHash } from 'node:crypto';
import { InvoqError, coerceError } from '../errors';
import type { EventQueues } from './event-queues';
import { withinDeadline } from '../redis/redis-connection';
import { newTraceId } from '../invocation/trace-id';
import { EVENT_JOB_NAME, type EventJobData } from './job-data';

/**
 * Stores an accepted event: one BullMQ `add` (one Redis script call) per event, the request id
 * as the job id, the body as received.
 */
export class EventProducer {
  /**
   * @param options.deadlineMs - answer 503 once an enqueue has taken this long (the API's bound
   *   against a frozen Redis); without it, an enqueue waits as its connection does (workers).
   */
  constructor(
    private readonly queues: EventQueues,
    private readonly options: { deadlineMs?: number } = {},
  ) {}

  /**
   * @param options.idempotent - the request id was derived from an `Idempotency-Key`: keep the
   *   finished job (and so the key) for 24 hours, whatever the status retention.
   * @param options.traceId - the event's `_X_AMZN_TRACE_ID`; a new one when absent.
   */
  async enqueue(
    functionName: string,
    requestId: string,
    payload: string,
    options: { idempotent?: boolean; traceId?: string; version?: string } = {},
  ): Promise<void> {
    const receivedAt = Date.now();
    const data: EventJobData = { v: 1, payload, receivedAt, traceId: options.traceId ?? newTraceId(receivedAt) };
    // `$LATEST` is left out: it is what an event without a version runs (and what older ones meant).
    if (options.version !== undefined && options.version !== '$LATEST') data.version = options.version;
    // Refuse at once rather than hang: the client retries a 503, and we have not stored it.
    if (!this.queues.connected) throw unavailable();
    try {
      // An existing job id makes BullMQ's add a no-op: that is the idempotency, in one round trip.
      // Past the deadline the add may still land once Redis answers: the client, told 503, may
      // send it again (an Idempotency-Key makes that repeat run nothing twice).
      const added = this.queues
        .get(functionName)
        .add(
          EVENT_JOB_NAME,
          data,
          options.idempotent
            ? { jobId: requestId, removeOnComplete: { age: Math.max(IDEMPOTENCY_WINDOW_SECONDS, this.queues.statusRetentionSeconds) } }
            : { jobId: requestId },
        );
      const { deadlineMs } = this.options;
      await (deadlineMs === undefined ? added : withinDeadline(added, deadlineMs, 'the enqueue'));
    } catch (e) {
      throw unavailable(e);
    }
  }
}

/** The same `Idempotency-Key` for the same function within this window runs once. */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600;

/**
 * The request id an `Idempotency-Key` stands for: a UUID (version 5 layout) from the function
 * and the key, so a repeat finds the first event's job by id.
 */
export function idempotentRequestId(functionName: string, key: string): string {
  const h = createHash('sha256').update(`invoq:${functionName}\n${key}`).digest('hex');
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function unavailable(cause?: unknown): InvoqError {
  return new InvoqError('QUEUE_UNAVAILABLE', 'The event queue is unavailable; retry later.', {
    retryAfterSeconds: 1,
    cause: cause === undefined ? undefined : coerceError(cause),
  });
}
