import type { RedisClient } from '../redis/redis-connection';
import type { EventQueues } from '../queue/event-queues';
import type { Metrics } from './metrics';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

/**
 * Everything the queue gauges need for one function, in one script: the size of each BullMQ
 * state, when the oldest waiting event was queued, and when the oldest DLQ entry failed. All its
 * keys carry the function's hash tag, so it runs on one Redis Cluster slot.
 */
const QUEUE_STATS_LUA = `
local counts = {
  redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5]), redis.call('ZCARD', KEYS[6]) }
local oldestId = redis.call('LINDEX', KEYS[1], -1)
local oldestQueued = false
if oldestId then oldestQueued = redis.call('HGET', ARGV[1] .. oldestId, 'timestamp') end
local oldestFailed = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')[2] or false
return { counts[1], counts[2], counts[3], counts[4], counts[5], counts[6], oldestQueued, oldestFailed }`;

/**
 * The functions whose queues are counted, read at every scrape (the set changes: a queue of a
 * function no longer loaded is counted while it holds events), and whether a live worker loads
 * each (undefined: not known yet).
 */
export interface QueueNameSource {
  names(): readonly string[];
  loadedByWorker?(functionName: string): boolean | undefined;
}

type QueueStatsRedis = RedisClient & { invoqQueueStats(...args: string[]): Promise<Array<number | string | null>> };

/**
 * Fills the queue gauges at scrape time (prom-client's advice: no timers): one script per
 * function, sent together, at most once per `cacheMs`, with a deadline. A Redis error leaves the
 * last values and never fails /metrics.
 */
export function registerQueueStats(
  metrics: Metrics,
  queues: EventQueues,
  functions: readonly string[] | QueueNameSource,
  cacheMs = 1000,
  timeoutMs = 500,
): void {
  const source: QueueNameSource = Array.isArray(functions) ? { names: () => functions } : (functions as QueueNameSource);
  const redis = queues.connection as QueueStatsRedis;
  /** The functions the gauges have series for, so a queue that is no longer known loses them. */
  let reported = new Set<string>();
  if (typeof redis.invoqQueueStats !== 'function') redis.defineCommand('invoqQueueStats', { numberOfKeys: 6, lua: QUEUE_STATS_LUA });
  let lastRead = 0;
  let inFlight: Promise<void> | undefined;

  async function read(): Promise<void> {
    const functionNames = [...source.names()];
    // One script per function, all sent at once: each reads one function's keys (one slot), so
    // the calls spread over a Cluster's nodes; a pipeline there must stay on one node.
    const results = await Promise.allSettled(
      functionNames.map((name) => {
        const key = (suffix: string) => queues.keyOf(name, suffix);
        return redis.invoqQueueStats(key('wait'), key('active'), key('delayed'), key('prioritized'), key('completed'), key('failed'), key(''));
      }),
    );
    const now = Date.now();
    functionNames.forEach((name, i) => {
      const result = results[i];
      if (result?.status !== 'fulfilled') return;
      const row = result.value as Array<number | string | null | false>;
      STATES.forEach((state, j) => metrics.queueJobs.set({ function: name, state }, Number(row[j] ?? 0)));
      metrics.dlqDepth.set({ function: name }, Number(row[5] ?? 0));
      const age = (at: unknown) => (at ? Math.max(0, (now - Number(at)) / 1000) : 0);
      metrics.queueOldestAge.set({ function: name }, age(row[6]));
      metrics.dlqOldestAge.set({ function: name }, age(row[7]));
      const queued = Number(row[0] ?? 0) + Number(row[2] ?? 0) + Number(row[3] ?? 0);
      metrics.unloadedFunctionEvents.set({ function: name }, source.loadedByWorker?.(name) === false ? queued : 0);
    });
    const current = new Set(functionNames);
    for (const name of reported) {
      if (current.has(name)) continue;
      for (const state of STATES) metrics.queueJobs.remove({ function: name, state });
      for (const gauge of [metrics.dlqDepth, metrics.queueOldestAge, metrics.dlqOldestAge, metrics.unloadedFunctionEvents]) gauge.remove({ function: name });
    }
    reported = current;
  }

  const refresh = async (): Promise<void> => {
    if (Date.now() - lastRead < cacheMs) return;
    inFlight ??= read()
      .then(() => {
        lastRead = Date.now();
      })
      .catch(() => undefined)
      .finally(() => {
        inFlight = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([inFlight, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  };
  // One refresh serves all four gauges; prom-client awaits each metric's collect().
  for (const gauge of [metrics.queueJobs, metrics.dlqDepth, metrics.queueOldestAge, metrics.dlqOldestAge, metrics.unloadedFunctionEvents]) {
    (gauge as unknown as { collect: () => Promise<void> }).collect = refresh;
  }
}
