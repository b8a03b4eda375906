// How the benchmarks time a drain: jobs queued while the queue is paused, then resumed, and the
// steady rate from the first completion to an empty queue (start-up excluded).
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Steady drain rate of `queue`: from its first completion to an empty queue, and what failed meanwhile. */
export async function drainRate(queue) {
  const before = await queue.getJobCounts('completed', 'failed');
  let first;
  for (;;) {
    const c = await queue.getJobCounts('waiting', 'active', 'completed', 'failed');
    if (!first && c.completed > before.completed) first = { at: performance.now(), completed: c.completed };
    if (first && c.waiting + c.active === 0) {
      const perSec = (c.completed - first.completed) / ((performance.now() - first.at) / 1000);
      return { perSec, failed: c.failed - before.failed, jobs: c.completed - before.completed };
    }
    await sleep(20);
  }
}

/**
 * Redis's append-only file rewritten now, and waited for. Left to itself, Redis rewrites it
 * whenever it has doubled: a fork writing the whole dataset out for seconds, which lands in
 * whichever drain is running then. Measured on 2026-12-03: the worker drained right after the
 * raw one slid from 16,000 to 10,000 jobs a second over five rounds, the drain after it did
 * not, and with rewrites off neither did.
 */
async function rewriteAof(redis) {
  if (!/aof_enabled:1/.test(await redis.info('persistence'))) return;
  await redis.bgrewriteaof().catch(() => undefined); // one already running (or scheduled) is waited for below
  while (!/aof_rewrite_in_progress:0[\s\S]*aof_rewrite_scheduled:0/.test(await redis.info('persistence'))) await sleep(50);
}

/**
 * One drain round: `jobs` jobs queued (`add`, 500 in flight) while `queue` is paused, then
 * resumed; the rate from its first completion to an empty queue. Redis's automatic AOF rewrites
 * are off for the round (`redis`: a connection to the queue's server), and the file is rewritten
 * before it resumes, so that no rewrite runs beside a drain. `onResume` is told just before the
 * queue resumes (to take a reading the round is then measured against).
 */
export async function pausedDrain(queue, add, jobs, { redis, onResume = () => undefined }) {
  const [, rewritePercentage] = await redis.config('GET', 'auto-aof-rewrite-percentage');
  await redis.config('SET', 'auto-aof-rewrite-percentage', '0');
  try {
    await queue.pause();
    let left = jobs;
    await Promise.all(
      Array.from({ length: 500 }, async () => {
        while (left > 0) {
          left--;
          await add();
        }
      }),
    );
    await rewriteAof(redis);
    onResume();
    await queue.resume();
    return await drainRate(queue);
  } finally {
    await redis.config('SET', 'auto-aof-rewrite-percentage', rewritePercentage);
  }
}
