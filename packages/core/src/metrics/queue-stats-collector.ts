import type { EventQueues } from '../queue/event-queues';
import type { Metrics } from './metrics';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;

/**
 * Fills the queue gauges at scrape time (prom-client's advice: no timers), at most once per
 * `cacheMs`, with a deadline. A Redis error leaves the last values and never fails /metrics.
 */
export function registerQueueStats(metrics: Metrics, queues: EventQueues, functionNames: readonly string[], cacheMs = 1000, timeoutMs = 500): void {
  let lastRead = 0;
  let inFlight: Promise<void> | undefined;

  async function read(): Promise<void> {
    const counts = await Promise.all(functionNames.map((name) => queues.get(name).getJobCounts(...STATES)));
    functionNames.forEach((name, i) => {
      const c = counts[i]!;
      for (const state of STATES) metrics.queueJobs.set({ function: name, state }, c[state] ?? 0);
      metrics.dlqDepth.set({ function: name }, c.failed ?? 0);
    });
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
  // One refresh serves both gauges; prom-client awaits each metric's collect().
  for (const gauge of [metrics.queueJobs, metrics.dlqDepth]) {
    (gauge as unknown as { collect: () => Promise<void> }).collect = refresh;
  }
}
