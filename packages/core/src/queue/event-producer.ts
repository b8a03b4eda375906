import { InvoqError, coerceError } from '../errors';
import type { EventQueues } from './event-queues';
import { EVENT_JOB_NAME, type EventJobData } from './job-data';

/**
 * Stores an accepted event: one BullMQ `add` (one Redis script call) per event, the request id
 * as the job id, the body as received.
 */
export class EventProducer {
  constructor(private readonly queues: EventQueues) {}

  async enqueue(functionName: string, requestId: string, payload: string, receivedAt = Date.now()): Promise<void> {
    const data: EventJobData = { v: 1, payload, receivedAt };
    // Refuse at once rather than hang: the client retries a 503, and we have not stored it.
    if (!this.queues.connected) throw unavailable();
    try {
      await this.queues.get(functionName).add(EVENT_JOB_NAME, data, { jobId: requestId });
    } catch (e) {
      throw unavailable(e);
    }
  }
}

function unavailable(cause?: unknown): InvoqError {
  return new InvoqError('QUEUE_UNAVAILABLE', 'The event queue is unavailable; retry later.', {
    retryAfterSeconds: 1,
    cause: cause === undefined ? undefined : coerceError(cause),
  });
}
