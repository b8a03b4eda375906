import type { RedisClient } from '../redis/redis-connection';
import { InvoqError } from '../errors';
import type { EventQueues } from '../queue/event-queues';
import { readQueuedCount } from '../queue/queued-count';

/**
 * INVOQ_MAX_QUEUED_EVENTS: past it, `Event` answers 429 instead of letting Redis fill up. The
 * count of queued events (waiting, delayed, prioritized; all functions, all replicas) is read
 * from Redis at most every `refreshMs` in the background, never on the request's path; the
 * events this process accepted since are added, so one replica cannot overshoot by a burst.
 */
export class QueuedEventsCap {
  private queued = 0;
  private acceptedSinceRead = 0;
  private readAt = 0;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly queues: EventQueues,
    /** Every function whose queue may hold events: loaded here or not, all count. */
    private readonly functionNames: () => readonly string[],
    private readonly maxQueuedEvents: number,
    private readonly refreshMs = 250,
  ) {}

  /** Throws `TooManyRequestsException` when the cap is reached; otherwise counts one more event. */
  admit(): void {
    if (Date.now() - this.readAt > this.refreshMs) void this.refresh();
    if (this.queued + this.acceptedSinceRead >= this.maxQueuedEvents) {
      throw new InvoqError('THROTTLED', `Too many queued events (limit ${this.maxQueuedEvents}); retry later.`, {
        reason: 'QueuedEventLimitExceeded',
        retryAfterSeconds: 1,
      });
    }
    this.acceptedSinceRead += 1;
  }

  /** Reads the count now (also done in the background by `admit`). */
  refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<void> {
    // Events admitted from here on may or may not be in what Redis answers; keep counting them.
    const admittedBefore = this.acceptedSinceRead;
    const redis = this.queues.connection as RedisClient;
    try {
      // One pipeline per function (its keys share a slot): a Cluster pipeline must stay on one node.
      const counts = await Promise.all(
        this.functionNames().map(async (name) => {
          const results = (await readQueuedCount(redis.pipeline(), (suffix) => this.queues.keyOf(name, suffix)).exec()) ?? [];
          return results.reduce((sum, [error, value]) => sum + (error ? 0 : Number(value)), 0);
        }),
      );
      this.queued = counts.reduce((sum, n) => sum + n, 0);
      this.acceptedSinceRead -= admittedBefore;
      this.readAt = Date.now();
    } catch {
      // Redis away: keep the last count; the enqueue itself will answer 503.
    }
  }
}
