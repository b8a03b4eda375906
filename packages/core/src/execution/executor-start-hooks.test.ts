/**
 * What a worker needs to never hold an event it cannot start: how many more runs would start at
 * once (`roomFor`), when a run waits and when it starts, and a way to give up a run that is still
 * waiting for an environment, with nothing of it run.
 */
import { isNotStarted } from '../errors';
import { loadFunctions } from '../functions/load-functions';
import type { ResolvedFunction } from '../functions/resolved-function';
import { makeFunctionsDir } from '../../../../test/support/harness';
import { Executor } from './executor';

// Each run counts itself in the thread and waits `event.ms`.
const COUNTING = `
let runs = 0;
exports.handler = async (event) => {
  runs += 1;
  if (event.ms) await new Promise((r) => setTimeout(r, event.ms));
  return { runs };
};`;
const dir = makeFunctionsDir({
  counting: { config: { handler: 'index.handler', timeout: 10 }, files: { 'index.js': COUNTING } },
  other: { config: { handler: 'index.handler', timeout: 10 }, files: { 'index.js': COUNTING } },
  remote: { config: { runtime: 'http', url: 'http://127.0.0.1:9/never', timeout: 1 }, files: {} },
});
const byName = new Map(loadFunctions(dir).map((f) => [f.name, f] as const));
const fn = (name: string): ResolvedFunction => byName.get(name)!;

let executor: Executor;
afterEach(async () => {
  await executor.close();
});

it('gives up a run that waits for an environment when its signal aborts, and reports wait and start', async () => {
  executor = new Executor({ maxEnvironments: 1 });
  const events: string[] = [];
  const hooks = (id: string) => ({ onWait: () => events.push(`${id} waits`), onStart: () => events.push(`${id} starts`) });
  const first = executor.invoke(fn('counting'), { requestId: 'a', payload: '{"ms":300}', ...hooks('a') });
  const controller = new AbortController();
  const second = executor.invoke(fn('counting'), { requestId: 'b', payload: '{}', signal: controller.signal, ...hooks('b') });
  expect(events).toEqual(['a starts', 'b waits']);
  controller.abort();
  const given = await second.then(
    () => 'ran',
    (e: unknown) => e,
  );
  expect(isNotStarted(given)).toBe(true);
  // The started run goes on; the given-up one never reached the thread.
  expect(JSON.parse((await first).body)).toEqual({ runs: 1 });
  expect(JSON.parse((await executor.invoke(fn('counting'), { requestId: 'c', payload: '{}' })).body)).toEqual({ runs: 2 });
  expect(events).toEqual(['a starts', 'b waits']);
});

it('refuses at once a run whose signal has already aborted, whatever environments are free', async () => {
  executor = new Executor({ maxEnvironments: 2 });
  const controller = new AbortController();
  controller.abort();
  const refused = await executor.invoke(fn('counting'), { requestId: 'x', payload: '{}', signal: controller.signal }).then(
    () => 'ran',
    (e: unknown) => e,
  );
  expect(isNotStarted(refused)).toBe(true);
  expect(executor.environmentCount).toBe(0);
  const remote = await executor.invoke(fn('remote'), { requestId: 'y', payload: '{}', signal: controller.signal }).then(
    () => 'ran',
    (e: unknown) => e,
  );
  expect(isNotStarted(remote)).toBe(true);
});

it('counts the runs that would start at once, and tells when that may have grown', async () => {
  let told = 0;
  executor = new Executor({ maxEnvironments: 2, onRoom: () => (told += 1) });
  // None yet: one may start.
  expect(executor.roomFor(fn('counting'))).toBe(1);
  expect(executor.roomFor(fn('remote'))).toBe(Infinity);
  const running = executor.invoke(fn('counting'), { requestId: 'a', payload: '{"ms":200}' });
  // Busy with a long run: a second run would wait while the scale-up rule decides.
  expect(executor.roomFor(fn('counting'))).toBe(0);
  expect(executor.roomFor(fn('other'))).toBe(1);
  await running;
  expect(told).toBeGreaterThan(0);
  // Idle and warm: one run starts at once on it.
  expect(executor.roomFor(fn('counting'))).toBeGreaterThanOrEqual(1);
  const longOther = [executor.invoke(fn('other'), { requestId: 'o', payload: '{"ms":300}' })];
  // Both environments taken (one idle of `counting`, evictable for a first of `other`)...
  expect(executor.roomFor(fn('other'))).toBe(0);
  await Promise.all(longOther);
});
