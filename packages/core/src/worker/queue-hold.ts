import type { Queue } from 'bullmq';

/**
 * The limiter every function's worker carries. BullMQ honours a queue hold (`Worker.rateLimit`:
 * the queue's limiter key set to MAX_SAFE_INTEGER for the hold's length, how an open breaker or
 * a full reserved concurrency stops a queue) only when the worker has a limiter; this one never
 * limits by count. Its key is still a counter of fetches that lives `duration` after the first
 * fetch of a window, so the key's TTL alone says nothing: only a count at `max` is a hold.
 */
export const HOLD_ONLY_LIMITER = { max: 2 ** 31 - 1, duration: 60_000 } as const;

/**
 * How much longer a function's queue is held (ms), 0 when it is not: the TTL of its limiter key
 * only while the count stands at the limiter's max, which no run of fetches reaches (2^31 - 1 a
 * minute), only a hold. The same test BullMQ's fetch makes before taking a job.
 */
export async function queueHoldRemainingMs(queue: Pick<Queue, 'getRateLimitTtl'>): Promise<number> {
  const ttl = await queue.getRateLimitTtl(HOLD_ONLY_LIMITER.max);
  return ttl > 0 ? ttl : 0;
}
