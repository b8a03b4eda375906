/**
 * Short runs queue behind each other in a busy environment (the thread takes the next without
 * sleeping), one at a time as ever; a run that kills its environment hands the ones queued
 * behind it back, unstarted, to run elsewhere.
 */
import { loadFunctions } from '../functions/load-functions';
import type { ResolvedFunction } from '../functions/resolved-function';
import { makeFunctionsDir } from '../../../../test/support/harness';
import { Executor } from './executor';

// Each run records, in the thread, whether another run was in progress when it began.
const RECORDING = `
let running = 0, overlapped = 0, runs = 0;
exports.handler = async (event) => {
  if (running > 0) overlapped += 1;
  running += 1; runs += 1;
  try {
    console.log("run", event.n);
    if (event.exit) process.exit(7);
    if (event.spin) for (;;) {}
    if (event.ms) await new Promise((r) => setTimeout(r, event.ms));
    return { n: event.n, threadId: require("node:worker_threads").threadId, overlapped, runs };
  } finally { running -= 1; }
};`;
const dir = makeFunctionsDir({
  recording: { config: { handler: 'index.handler', timeout: 0.5 }, files: { 'index.js': RECORDING } },
});
const recording: ResolvedFunction = loadFunctions(dir)[0]!;

let executor: Executor;
afterEach(async () => {
  await executor.close();
});

const invoke = (payload: object, id = `r${JSON.stringify(payload)}`) => executor.invoke(recording, { requestId: id, payload: JSON.stringify(payload) });
type Body = { n: number; threadId: number; overlapped: number; runs: number };

it('queues short runs in few environments, one run at a time in each, each with its own logs', async () => {
  // Runs count as short whatever this machine's speed (a cold first run can last past 1 ms).
  executor = new Executor({ maxEnvironments: 8, runsPerEnvironment: 8, queueBehindRunMs: 1000 });
  await invoke({ n: -1 }); // warm: runs queue only behind a function known to be quick
  const outcomes = await Promise.all(Array.from({ length: 300 }, (_, n) => invoke({ n })));
  const bodies = outcomes.map((o) => JSON.parse(o.body) as Body);
  expect(bodies.map((b) => b.n)).toEqual(Array.from({ length: 300 }, (_, n) => n));
  expect(bodies.every((b) => b.overlapped === 0)).toBe(true);
  outcomes.forEach((o, n) => expect(o.logs).toEqual([expect.stringMatching(new RegExp(`\\tINFO\\trun ${n}$`))]));
  expect(executor.environmentCount).toBeLessThanOrEqual(2);
});

it('starts a queued run’s timeout and duration when the run before it answers', async () => {
  // Let 150 ms runs queue (normally only runs of ≤ 1 ms do): three in a row take 450 ms, past
  // the function's 500 ms timeout only if a queued run's clock started while it waited.
  executor = new Executor({ maxEnvironments: 1, queueBehindRunMs: 1000 });
  await invoke({ n: 0, ms: 150 });
  const outcomes = await Promise.all([1, 2, 3, 4].map((n) => invoke({ n, ms: 150 })));
  expect(outcomes.map((o) => o.functionError)).toEqual([undefined, undefined, undefined, undefined]);
  expect(new Set(outcomes.map((o) => (JSON.parse(o.body) as Body).threadId)).size).toBe(1);
  for (const o of outcomes) expect(o.durationMs).toBeLessThan(400);
});

it.each([
  ['exits', { exit: true }, 'Runtime.ExitError'],
  ['times out', { spin: true }, 'Sandbox.Timedout'],
])('runs elsewhere, once, what was queued behind a run that %s', async (_, fatal, errorType) => {
  executor = new Executor({ maxEnvironments: 2, unconditionalEnvironments: 1 });
  const dead = (JSON.parse((await invoke({ n: 0 })).body) as Body).threadId;
  const first = invoke({ n: 1, ...fatal });
  const queued = [2, 3, 4].map((n) => invoke({ n }));
  expect((await first).functionError?.errorType).toBe(errorType);
  const bodies = (await Promise.all(queued)).map((o) => JSON.parse(o.body) as Body);
  expect(bodies.map((b) => b.n)).toEqual([2, 3, 4]);
  // Fresh environments ran all three, each once: nothing began in the dead one. (Usually one
  // ran them all; a second may start while the first's cold start waits on I/O, as it may for
  // any run that waits.)
  expect(bodies.filter((b) => b.threadId === dead)).toEqual([]);
  const runsPerThread = new Map<number, number[]>();
  for (const b of bodies) runsPerThread.set(b.threadId, [...(runsPerThread.get(b.threadId) ?? []), b.runs]);
  for (const runs of runsPerThread.values()) expect(runs).toEqual(Array.from({ length: runs.length }, (_, i) => i + 1));
});

it('counts an environment idle once when the answers of a batch of runs are read together', async () => {
  // Runs count as short whatever this machine's speed (a cold first run can last past 1 ms),
  // so an idle environment has room for 17: one as it is idle, and 16 to queue on it.
  executor = new Executor({ maxEnvironments: 1, runsPerEnvironment: 16, queueBehindRunMs: 1000 });
  await invoke({ n: -1 });
  const roomWhenIdle = executor.roomFor(recording);
  expect(roomWhenIdle).toBe(17);
  // Handed over in one turn, posted together, answered before this thread looks: every run's
  // end then finds the environment with nothing outstanding.
  const outcomes = await Promise.all(Array.from({ length: 16 }, (_, n) => invoke({ n })));
  expect(outcomes.map((o) => (JSON.parse(o.body) as Body).n)).toEqual(Array.from({ length: 16 }, (_, n) => n));
  expect(executor.environmentCount).toBe(1);
  expect(executor.roomFor(recording)).toBe(roomWhenIdle);
});
