import { loadFunctions } from '../functions/load-functions';
import type { ResolvedFunction } from '../functions/resolved-function';
import { makeFunctionsDir, waitFor } from '../../../../test/support/harness';
import { Executor } from './executor';

// Two revisions of one function, as a deployed function's `$LATEST` before and after an update:
// the same name, each its own execution key. The handler answers its revision, and how many
// calls its environment has served, so a reused environment shows.
const dir = makeFunctionsDir({
  slow: {
    config: { handler: 'index.handler', timeout: 5 },
    files: {
      'index.js':
        'let calls = 0; exports.handler = async (e) => { calls++; if (e.waitMs) await new Promise((r) => setTimeout(r, e.waitMs)); return { revision: process.env.REVISION, calls }; };',
    },
  },
});
const [base] = loadFunctions(dir) as [ResolvedFunction];
const revision = (n: number): ResolvedFunction => ({
  ...base,
  executionKey: `slow:$LATEST:r${n}`,
  config: { ...base.config, environment: { REVISION: String(n) } },
});

describe('Executor.retire', () => {
  const executor = new Executor({ maxEnvironments: 4, idleTimeoutMs: 60_000 });
  afterAll(() => executor.close());

  it('ends idle environments of retired code at once, and a busy one once its run ends; the new code gets its own', async () => {
    const [one, two] = [revision(1), revision(2)];
    const run = (fn: ResolvedFunction, payload: object) => executor.invoke(fn, { requestId: `r-${Math.random()}`, payload: JSON.stringify(payload) });
    expect(JSON.parse((await run(one, {})).body)).toEqual({ revision: '1', calls: 1 });
    expect(executor.environmentCount).toBe(1);

    // A long run of revision 1 is in flight when revision 2 takes over.
    let started!: () => void;
    const begun = new Promise<void>((resolve) => (started = resolve));
    const inFlight = executor.invoke(one, { requestId: 'long', payload: JSON.stringify({ waitMs: 300 }), onStart: () => started() });
    await begun;
    executor.retire((key) => key === two.executionKey);
    const fresh = JSON.parse((await run(two, {})).body);
    expect(fresh).toEqual({ revision: '2', calls: 1 });

    // The old run finished on the old code, then its environment ended.
    expect(JSON.parse((await inFlight).body)).toEqual({ revision: '1', calls: 2 });
    await waitFor(() => executor.environmentCount === 1, 5000, 'the retired environment to end');
    expect(JSON.parse((await run(two, {})).body)).toEqual({ revision: '2', calls: 2 });
  });
});
