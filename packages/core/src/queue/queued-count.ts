import type { ChainableCommander } from 'ioredis';

/**
 * Adds to `pipeline` the reads of a function's queued events: waiting, delayed and prioritized,
 * the BullMQ states of an event accepted and not running. Their three replies sum to the count
 * (the queue cap and the known queues both read it, each in its own pipeline).
 */
export function readQueuedCount(pipeline: ChainableCommander, key: (suffix: string) => string): ChainableCommander {
  return pipeline.llen(key('wait')).zcard(key('delayed')).zcard(key('prioritized'));
}
