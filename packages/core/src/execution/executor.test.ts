import { loadFunctions } from '../functions/load-functions';
import type { ResolvedFunction } from '../functions/resolved-function';
import { type InvoqError } from '../errors';
import { makeFunctionsDir, waitFor } from '../../../../test/support/harness';
import { Executor } from './executor';

const dir = makeFunctionsDir({
  asyncEcho: {
    config: { handler: 'index.handler' },
    files: {
      'index.mjs':
        'export const handler = async (event, context) => ({ event, requestId: context.awsRequestId, mem: context.memoryLimitInMB, left: context.getRemainingTimeInMillis(), cc: context.clientContext, env: process.env.ONLY_MINE ?? null, secret: process.env.INVOQ_API_KEYS ?? null });',
    },
  },
  callback: {
    config: { handler: 'index.handler', environment: { ONLY_MINE: 'yes' } },
    files: {
      'index.cjs':
        'exports.handler = (event, context, cb) => { console.log("hi", event.n); setTimeout(() => cb(null, { n: event.n * 2, env: process.env.ONLY_MINE }), 5); };',
    },
  },
  thrower: {
    config: { handler: 'index.handler' },
    files: {
      'index.js': 'class Boom extends Error { constructor(m) { super(m); this.name = "Boom"; } } exports.handler = async () => { throw new Boom("kaboom"); };',
    },
  },
  nonError: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => { throw "just a string"; };' } },
  spin: { config: { handler: 'index.handler', timeout: 0.3 }, files: { 'index.js': 'exports.handler = async () => { for (;;) {} };' } },
  slowInit: {
    config: { handler: 'index.handler', timeout: 0.2 },
    files: {
      'index.js':
        'const until = Date.now() + 400; while (Date.now() < until) {} exports.handler = async (e, context) => ({ left: context.getRemainingTimeInMillis() });',
    },
  },
  exiter: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => { process.exit(3); };' } },
  wait: {
    config: { handler: 'index.handler', timeout: 5 },
    files: {
      'index.js':
        'exports.handler = async (e) => { await new Promise(r => setTimeout(r, e.ms)); return { threadId: require("node:worker_threads").threadId }; };',
    },
  },
  counter: { config: { handler: 'index.handler' }, files: { 'index.js': 'let n = 0; exports.handler = async () => ++n;' } },
  undef: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => undefined;' } },
  circular: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => { const a = {}; a.a = a; return a; };' } },
  timerThrows: {
    config: { handler: 'index.handler' },
    files: { 'index.js': 'exports.handler = () => new Promise(() => { setTimeout(() => { throw new TypeError("from a timer"); }, 5); });' },
  },
  rejects: {
    config: { handler: 'index.handler' },
    files: { 'index.js': 'exports.handler = () => { Promise.reject(new RangeError("nobody caught me")); return new Promise(() => {}); };' },
  },
  hog: {
    config: { handler: 'index.handler', memorySize: 32, timeout: 20 },
    files: { 'index.js': 'exports.handler = async () => { const keep = []; for (;;) keep.push(new Array(100000).fill(Math.random())); };' },
  },
  lateThrow: {
    config: { handler: 'index.handler' },
    files: { 'index.js': 'exports.handler = async () => { setTimeout(() => { throw new Error("too late"); }, 30); return "answered"; };' },
  },
  chatty: {
    config: { handler: 'index.handler', timeout: 0.3 },
    files: { 'index.js': 'exports.handler = async () => { console.log("before the hang"); console.error("still here"); for (;;) {} };' },
  },
  missingExport: { config: { handler: 'index.nope' }, files: { 'index.js': 'exports.handler = async () => 1;' } },
});
const fns = new Map(loadFunctions(dir).map((f) => [f.name, f]));
const fn = (name: string): ResolvedFunction => fns.get(name)!;

let executor: Executor;
beforeEach(() => {
  executor = new Executor({ maxEnvironments: 4 });
});
afterEach(async () => {
  await executor.close();
});

const run = (name: string, payload: unknown = {}, extra: { clientContext?: string } = {}) =>
  executor.invoke(fn(name), { requestId: `req-${name}`, payload: JSON.stringify(payload), ...extra });

describe('Executor', () => {
  it('runs an async ESM handler with a Lambda context, and keeps the service env out', async () => {
    const outcome = await run('asyncEcho', { a: 1 }, { clientContext: '{"custom":{"k":"v"}}' });
    expect(outcome.functionError).toBeUndefined();
    const body = JSON.parse(outcome.body);
    expect(body).toMatchObject({ event: { a: 1 }, requestId: 'req-asyncEcho', mem: '128', cc: { custom: { k: 'v' } }, env: null, secret: null });
    expect(body.left).toBeGreaterThan(2000);
    expect(body.left).toBeLessThanOrEqual(3000);
  });

  it('runs a CommonJS callback handler, with its own environment, and captures its log lines', async () => {
    const outcome = await run('callback', { n: 21 });
    expect(JSON.parse(outcome.body)).toEqual({ n: 42, env: 'yes' });
    expect(outcome.logs).toHaveLength(1);
    expect(outcome.logs[0]).toMatch(/\treq-callback\tINFO\thi 21$/);
  });

  it('turns a thrown error into Lambda’s error shape', async () => {
    const outcome = await run('thrower');
    expect(outcome.functionError).toMatchObject({ errorType: 'Boom', errorMessage: 'kaboom' });
    expect(JSON.parse(outcome.body)).toMatchObject({
      errorType: 'Boom',
      errorMessage: 'kaboom',
      trace: expect.arrayContaining([expect.stringContaining('Boom: kaboom')]),
    });
  });

  it('reports a thrown non-Error as its type and string', async () => {
    const outcome = await run('nonError');
    expect(outcome.functionError).toEqual({ errorType: 'string', errorMessage: 'just a string', trace: [] });
  });

  it('kills a CPU-bound handler at its timeout and replaces the environment', async () => {
    const started = Date.now();
    const outcome = await run('spin');
    // 300 ms timeout; the kill itself should take well under 250 ms (loose bound: 10×).
    expect(Date.now() - started).toBeLessThan(300 + 2500);
    expect(executor.environmentCount).toBe(0);
    expect(outcome.functionError).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: 'RequestId: req-spin Error: Task timed out after 0.30 seconds',
      trace: [],
    });
    // The next call gets a fresh environment and times out the same way (not a dead thread).
    expect((await run('spin')).functionError?.errorType).toBe('Sandbox.Timedout');
  });

  it('starts the timeout when the handler starts: a slow module load is init, not run time', async () => {
    const outcome = await run('slowInit');
    expect(outcome.functionError).toBeUndefined();
    expect(outcome.initDurationMs).toBeGreaterThan(300);
    expect(JSON.parse(outcome.body).left).toBeGreaterThan(100);
  });

  it('contains process.exit() to the invocation', async () => {
    const outcome = await run('exiter');
    expect(outcome.functionError).toMatchObject({ errorType: 'Runtime.ExitError', errorMessage: expect.stringContaining('exit status 3') });
    expect(JSON.parse((await run('asyncEcho')).body).event).toEqual({});
  });

  it.each([
    ['timerThrows', 'TypeError', 'from a timer'],
    // Lambda's name for a rejection nobody handled, with the reason as its message.
    ['rejects', 'Runtime.UnhandledPromiseRejection', 'RangeError: nobody caught me'],
  ])('turns an uncaught error of %s into a function error for that call only', async (name, errorType, errorMessage) => {
    const outcome = await run(name);
    expect(outcome.functionError).toMatchObject({ errorType, errorMessage });
    expect(JSON.parse((await run('asyncEcho', { still: 'fine' })).body).event).toEqual({ still: 'fine' });
  });

  it('stops a handler that outgrows its memorySize, and carries on', async () => {
    const outcome = await run('hog');
    expect(outcome.functionError?.errorType).toBe('Runtime.OutOfMemory');
    expect(outcome.functionError?.errorMessage).toMatch(/out of memory \(memorySize 32 MB\)/);
    expect((await run('counter')).functionError).toBeUndefined();
  }, 30_000);

  it('blames a late error on the run that left it, and replaces that environment', async () => {
    const late: Array<{ requestId: string | undefined; message: string }> = [];
    const watched = new Executor({ onLateError: (_fn, requestId, error) => late.push({ requestId, message: error.errorMessage }) });
    try {
      const first = await watched.invoke(fn('lateThrow'), { requestId: 'leaves-a-timer', payload: '{}' });
      expect(first.body).toBe('"answered"');
      // Poll until the timer has fired and the environment is gone.
      for (const deadline = Date.now() + 5000; late.length === 0 && Date.now() < deadline;) await new Promise((r) => setTimeout(r, 10));
      expect(late).toEqual([{ requestId: 'leaves-a-timer', message: 'too late' }]);
      expect(watched.environmentCount).toBe(0);
      const second = await watched.invoke(fn('lateThrow'), { requestId: 'next', payload: '{}' });
      expect(second.functionError).toBeUndefined();
    } finally {
      await watched.close();
    }
  });

  it('keeps the lines a run logged before it timed out', async () => {
    const outcome = await run('chatty');
    expect(outcome.functionError?.errorType).toBe('Sandbox.Timedout');
    expect(outcome.logs).toEqual([expect.stringMatching(/\tINFO\tbefore the hang$/), expect.stringMatching(/\tERROR\tstill here$/)]);
  });

  it('keeps an environment warm: module state survives between runs', async () => {
    expect((await run('counter')).body).toBe('1');
    expect((await run('counter')).body).toBe('2');
    expect(executor.environmentCount).toBe(1);
  });

  it('answers null for undefined and a marshal error for an unserialisable result', async () => {
    expect((await run('undef')).body).toBe('null');
    expect((await run('circular')).functionError?.errorType).toBe('Runtime.MarshalError');
  });

  it('reports a missing export as Runtime.HandlerNotFound', async () => {
    expect((await run('missingExport')).functionError?.errorType).toBe('Runtime.HandlerNotFound');
  });

  it('refuses a body that is not JSON', async () => {
    await expect(executor.invoke(fn('asyncEcho'), { requestId: 'r', payload: '{nope' })).rejects.toMatchObject({ code: 'INVALID_REQUEST_CONTENT' });
  });

  it('overlaps waiting invocations in several environments', async () => {
    const started = Date.now();
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => run('wait', { ms: 300 })));
    // Four 300 ms waits in parallel: far less than the 1.2 s they would take in a row.
    expect(Date.now() - started).toBeLessThan(1100);
    expect(new Set(outcomes.map((o) => JSON.parse(o.body).threadId)).size).toBe(4);
  });

  it('starts environments for waiting calls, but keeps CPU-light calls on one or two warm ones', async () => {
    const wide = new Executor({ maxEnvironments: 16 });
    try {
      const noop = await Promise.all(Array.from({ length: 200 }, (_, i) => wide.invoke(fn('counter'), { requestId: `n${i}`, payload: '{}' })));
      expect(noop).toHaveLength(200);
      expect(wide.environmentCount).toBeLessThanOrEqual(2);
      const started = Date.now();
      await Promise.all(Array.from({ length: 16 }, (_, i) => wide.invoke(fn('wait'), { requestId: `w${i}`, payload: '{"ms":300}' })));
      // Sixteen 300 ms waits overlap: far under the 4.8 s they take in a row (the tight figure,
      // ~1 s here, is npm run bench:executor's; this bound only catches a broken mechanism).
      expect(Date.now() - started).toBeLessThan(4000);
      expect(wide.environmentCount).toBeGreaterThanOrEqual(8);
    } finally {
      await wide.close();
    }
  });

  it('reuses one warm environment for calls in sequence', async () => {
    for (let i = 0; i < 5; i += 1) await run('wait', { ms: 0 });
    expect(executor.environmentCount).toBe(1);
  });

  it('throttles when every environment is busy past the wait', async () => {
    const busy = Array.from({ length: 4 }, () => run('wait', { ms: 500 }));
    // Every environment this executor may have is started and busy: none can be had.
    await waitFor(() => executor.environmentCount === 4, 5000, 'four environments');
    await expect(executor.invoke(fn('wait'), { requestId: 'late', payload: '{"ms":0}' }, 50)).rejects.toMatchObject({
      code: 'THROTTLED',
      reason: 'ConcurrentInvocationLimitExceeded',
    } satisfies Partial<InvoqError>);
    await Promise.all(busy);
  });

  it('ends the thread of a run that outlives close()', async () => {
    const outliving = run('wait', { ms: 200 });
    await waitFor(() => executor.environmentCount === 1, 5000, 'the run to start');
    await executor.close();
    await outliving;
    await waitFor(() => executor.environmentCount === 0, 5000, 'the environment to end');
  });
});
