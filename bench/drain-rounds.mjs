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
 * One drain round: `jobs` jobs queued (`add`, 500 in flight) while `queue` is paused, then
 * resumed; the rate from its first completion to an empty queue. `onResume` is told just before
 * the queue resumes (to take a reading the round is then measured against).
 */
export async function pausedDrain(queue, add, jobs, onResume = () => undefined) {
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
  onResume();
  await queue.resume();
  return drainRate(queue);
}
