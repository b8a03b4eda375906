import { Cluster } from 'ioredis';
import { functionOfQueue } from '../queue/queue-names';
import type { RedisClient } from '../redis/redis-connection';

/** Keys SCAN looks at per call: few round trips, each short enough not to stall Redis. */
const SCAN_COUNT = 1000;

/**
 * The functions that have a BullMQ queue under `prefix`, whatever this process loads: every
 * queue that ever held an event has a `meta` hash (BullMQ writes it with the first job), so a
 * SCAN for `<prefix>:{*}:meta` finds them, those of earlier deployments too, with no write on
 * the enqueue path and no key shared by all functions. On a Cluster each master holds its own
 * slots: every master is scanned. A destination queue (`{fn}-destinations`) is not a function's.
 */
export async function discoverFunctionQueues(redis: RedisClient, prefix: string): Promise<string[]> {
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const found = new Set<string>();
  await Promise.all(
    nodes.map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:{*}:meta`, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (const key of keys) {
          const name = functionOfQueue(key.slice(prefix.length + 1, -':meta'.length));
          if (name) found.add(name);
        }
      } while (cursor !== '0');
    }),
  );
  return [...found].sort();
}
