/**
 * Calls of a CPU-bound function: a waiting call is refused (429) only when no environment can
 * be had, and waiting calls may use as many environments as the machine has cores.
 */
import { loadFunctions } from '../functions/load-functions';
import type { ResolvedFunction } from '../functions/resolved-function';
import { makeFunctionsDir } from '../../../../test/support/harness';
import { Executor } from './executor';

// Computes for event.ms milliseconds, then says which thread did.
const SPINNING = `
exports.handler = async (event) => {
  const until = performance.now() + event.ms;
  while (performance.now() < until) {}
  return { threadId: require("node:worker_threads").threadId };
};`;
const dir = makeFunctionsDir({
  spinning: { config: { handler: 'index.handler', timeout: 30 }, files: { 'index.js': SPINNING } },
});
const spinning: ResolvedFunction = loadFunctions(dir)[0]!;

let executor: Executor;
afterEach(async () => {
  await executor.close();
});

const invoke = (ms: number, id: string, waitMs: number) => executor.invoke(spinning, { requestId: id, payload: JSON.stringify({ ms }) }, waitMs);

it('refuses no call while environments can be had, however long the computing calls before it take', async () => {
  executor = new Executor({ maxEnvironments: 16 });
  await invoke(1, 'warm', Infinity);
  // 16 calls of 100 ms with a 150 ms wait: on few cores, most would wait past it behind the
  // environments already computing; each then gets an environment of its own instead of a 429.
  const settled = await Promise.allSettled(Array.from({ length: 16 }, (_, n) => invoke(100, `r${n}`, 150)));
  const refused = settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason));
  expect(refused).toEqual([]);
  expect(executor.environmentCount).toBeLessThanOrEqual(16);
});

it('refuses a call once no environment can be had', async () => {
  executor = new Executor({ maxEnvironments: 1 });
  await invoke(20, 'warm', Infinity); // not short enough for calls to queue behind its runs
  const long = invoke(600, 'long', Infinity);
  await expect(invoke(1, 'refused', 50)).rejects.toMatchObject({ code: 'THROTTLED', reason: 'ConcurrentInvocationLimitExceeded' });
  await long;
});

it('lets waiting calls of a computing function use as many environments as there are cores', async () => {
  // The default is the machine's core count; 4 are given here, whatever this one has. One
  // unconditional environment, as the API has.
  executor = new Executor({ maxEnvironments: 8, unconditionalEnvironments: 1, cores: 4 });
  await invoke(20, 'warm', Infinity); // not short enough for calls to queue behind its runs
  // Long enough that each scale check sees every environment computing, not waiting.
  const outcomes = await Promise.all(Array.from({ length: 8 }, (_, n) => invoke(400, `c${n}`, Infinity)));
  const threads = new Set(outcomes.map((o) => (JSON.parse(o.body) as { threadId: number }).threadId));
  expect(threads.size).toBeGreaterThanOrEqual(4);
  // Past one per core, computing calls wait rather than start threads that would only share them.
  expect(executor.environmentCount).toBeLessThan(8);
});

it('keeps short runs on one environment when this thread reads their answers late', async () => {
  // One unconditional environment, as the API has: a second starts only for runs that compute
  // (or wait) across a whole scale check, and 0.6 ms runs do neither. Runs count as short on any
  // machine (a slow or loaded one measured these at over the default 1 ms and rightly scaled).
  executor = new Executor({ maxEnvironments: 8, unconditionalEnvironments: 1, cores: 2, runsPerEnvironment: 16, queueBehindRunMs: 1000 });
  for (let n = 0; n < 3; n++) await invoke(0.6, `warm${n}`, Infinity);
  for (let round = 0; round < 5; round++) {
    // 16 runs go to the thread, 24 wait, and a scale check is due in 5 ms.
    const batch = Array.from({ length: 40 }, (_, n) => invoke(0.6, `r${round}.${n}`, Infinity));
    await new Promise((resolve) => setImmediate(resolve));
    // This thread busy for 8 ms, as a loaded API's is: the check then finds the environment in
    // a run (its 13th or so) while the first answers are still unread here.
    const until = performance.now() + 8;
    while (performance.now() < until) continue;
    const outcomes = await Promise.all(batch);
    expect(new Set(outcomes.map((o) => (JSON.parse(o.body) as { threadId: number }).threadId)).size).toBe(1);
  }
  expect(executor.environmentCount).toBe(1);
});
