/**
 * What a thread's function code can and cannot do to the service: forge its runtime's answers
 * (refused), find the runtime's channel (hidden), hold memory outside the V8 heap past
 * `memorySize` (Runtime.OutOfMemory), flood the log (bounded). Signals and process.exit are in
 * test/e2e/isolation.test.ts: on code without the guard they would stop jest itself.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadFunctions } from '../functions/load-functions';
import type { ResolvedFunction } from '../functions/resolved-function';
import { makeFunctionsDir, waitFor } from '../../../../test/support/harness';
import { Environment } from './environment';
import type { RunReply } from './execution-environment';
import { Executor } from './executor';
import { MAX_LOG_LINE_CHARS, MAX_RESPONSE_BYTES } from './thread-protocol';

const MB = 1 << 20;
const dir = makeFunctionsDir({
  // What a function could do before: answer for its runtime on parentPort, with a body four
  // times Lambda's limit, then carry on as if nothing happened.
  forgeOnParentPort: {
    config: { handler: 'index.handler' },
    files: {
      'index.js': `exports.handler = async (event, context) => {
  const { parentPort } = require('node:worker_threads');
  parentPort.postMessage({ kind: 'result', requestId: context.awsRequestId, body: 'x'.repeat(20 * 1024 * 1024), initMs: 0, durationMs: 1, heapUsedMb: 1 });
  await new Promise((r) => setTimeout(r, 200));
  return 'the real answer';
};`,
    },
  },
  forgeOnParentPortEsm: {
    config: { handler: 'index.handler' },
    files: {
      'index.mjs': `import { parentPort } from 'node:worker_threads';\nexport const handler = async () => { parentPort.postMessage({ kind: 'result', body: 'forged' }); return 'the real answer'; };`,
    },
  },
  lookAround: {
    config: { handler: 'index.handler' },
    files: {
      'index.js': `exports.handler = async () => {
  const threads = require('node:worker_threads');
  const esm = await import('node:worker_threads');
  return { parentPort: threads.parentPort, esmParentPort: esm.parentPort, keys: Object.keys(threads.workerData).sort() };
};`,
    },
  },
  // 300 MB of Buffers, held while the run goes on (it yields between allocations).
  bufferHog: {
    config: { handler: 'index.handler', memorySize: 128, timeout: 30 },
    files: {
      'index.js': `exports.handler = async () => { const keep = []; for (let i = 0; i < 300; i++) { keep.push(Buffer.alloc(1024 * 1024, 1)); await new Promise((r) => setImmediate(r)); } return keep.length; };`,
    },
  },
  // 300 MB of ArrayBuffers built in one synchronous stretch and kept in module state.
  cacheHog: {
    config: { handler: 'index.handler', memorySize: 128, timeout: 30 },
    files: {
      'index.js': `const cache = []; exports.handler = async () => { for (let i = 0; i < 300; i++) cache.push(new ArrayBuffer(1024 * 1024)); return cache.length; };`,
    },
  },
  // 1 GB through Buffers of 1 MB, never more than a few alive: not out of memory.
  bufferChurn: {
    config: { handler: 'index.handler', memorySize: 128, timeout: 30 },
    files: {
      'index.js': `exports.handler = async () => { let bytes = 0; for (let i = 0; i < 1000; i++) { bytes += Buffer.alloc(1024 * 1024, 1).length; if (i % 10 === 0) await new Promise((r) => setImmediate(r)); } return bytes; };`,
    },
  },
  // 200 MB held with room to spare: Max Memory Used counts it.
  bigButAllowed: {
    config: { handler: 'index.handler', memorySize: 512, timeout: 30 },
    files: {
      'index.js': `exports.handler = async () => { const keep = []; for (let i = 0; i < 200; i++) keep.push(Buffer.alloc(1024 * 1024, 1)); return keep.length; };`,
    },
  },
  // Listens in on every MessagePort send, then logs: the runtime's sends never pass through it.
  eavesdrop: {
    config: { handler: 'index.handler' },
    files: {
      'index.js': `const { MessagePort } = require('node:worker_threads');
const seen = [];
const original = MessagePort.prototype.postMessage;
MessagePort.prototype.postMessage = function (message, ...rest) { seen.push(message); return original.call(this, message, ...rest); };
exports.handler = async () => { console.log('a line the runtime sends'); await new Promise((r) => setTimeout(r, 20)); return { seen: seen.length }; };`,
    },
  },
  // Answers, then holds 300 MB of Buffers in a timer: its environment ends between runs.
  lateHog: {
    config: { handler: 'index.handler', memorySize: 128, timeout: 30 },
    files: {
      'index.js': `const keep = []; exports.handler = async () => { setTimeout(() => { for (let i = 0; i < 300; i++) keep.push(Buffer.alloc(1024 * 1024, 1)); }, 10); return 'answered'; };`,
    },
  },
  longLine: {
    config: { handler: 'index.handler' },
    files: { 'index.js': `exports.handler = async () => { console.log('y'.repeat(1024 * 1024)); return 'logged'; };` },
  },
  echo: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (e) => e;' } },
});
const fns = new Map(loadFunctions(dir).map((f) => [f.name, f]));
const fn = (name: string): ResolvedFunction => fns.get(name)!;

describe('function code in a thread', () => {
  let executor: Executor;
  const lateErrors: Array<{ fn: string; requestId: string | undefined; errorType: string }> = [];
  beforeEach(() => {
    lateErrors.length = 0;
    executor = new Executor({
      maxEnvironments: 4,
      onLateError: (f, requestId, error) => lateErrors.push({ fn: f.name, requestId, errorType: error.errorType }),
    });
  });
  afterEach(async () => {
    await executor.close();
  });
  const invoke = (name: string, payload: unknown = {}) => executor.invoke(fn(name), { requestId: `req-${name}`, payload: JSON.stringify(payload) });

  it('cannot answer for its runtime on parentPort: the forged 20 MB body never reaches the caller', async () => {
    const outcome = await invoke('forgeOnParentPort');
    expect(outcome.body.length).toBeLessThan(MAX_RESPONSE_BYTES);
    expect(outcome.functionError).toMatchObject({ errorType: 'TypeError', errorMessage: expect.stringContaining("reading 'postMessage'") });
    const esm = await invoke('forgeOnParentPortEsm');
    expect(esm.body).not.toContain('forged');
    expect(esm.functionError?.errorType).toBe('TypeError');
  });

  it('finds neither parentPort nor the runtime’s channel, in CommonJS or as an ES module', async () => {
    const outcome = await invoke('lookAround');
    expect(JSON.parse(outcome.body)).toEqual({
      parentPort: null,
      esmParentPort: null,
      keys: ['functionArn', 'functionName', 'functionVersion', 'handlerFile', 'handlerPath', 'handlerSetting', 'logStreamName', 'memorySizeMb'],
    });
  });

  it('holding 300 MB of Buffers with memorySize 128 ends its environment with Runtime.OutOfMemory', async () => {
    const outcome = await invoke('bufferHog');
    expect(outcome.functionError).toMatchObject({
      errorType: 'Runtime.OutOfMemory',
      errorMessage: expect.stringMatching(/^RequestId: req-bufferHog Error: Runtime exited with error: out of memory \(memorySize 128 MB, \d+ MB in use\)$/),
    });
    expect(outcome.body).not.toBe('300');
    // The next call gets a fresh environment.
    expect(JSON.parse((await invoke('echo', { after: 'oom' })).body)).toEqual({ after: 'oom' });
  });

  it('keeping 300 MB of ArrayBuffers built in one synchronous stretch is caught when it answers', async () => {
    const outcome = await invoke('cacheHog');
    expect(outcome.functionError?.errorType).toBe('Runtime.OutOfMemory');
    expect(outcome.body).not.toBe('300');
  });

  it('holding 300 MB between runs ends the environment, blamed on the run that left it', async () => {
    expect((await invoke('lateHog')).body).toBe('"answered"');
    await waitFor(() => lateErrors.length > 0, 10_000, 'the idle environment to be ended');
    expect(lateErrors).toEqual([{ fn: 'lateHog', requestId: 'req-lateHog', errorType: 'Runtime.OutOfMemory' }]);
    expect(executor.environmentCount).toBe(0);
  });

  it('sees none of its runtime’s messages by replacing MessagePort.prototype.postMessage', async () => {
    const outcome = await invoke('eavesdrop');
    expect(JSON.parse(outcome.body)).toEqual({ seen: 0 });
    expect(outcome.logs).toEqual([expect.stringMatching(/\tINFO\ta line the runtime sends$/)]);
  });

  it('passing 1 GB through short-lived Buffers is not out of memory', async () => {
    const outcome = await invoke('bufferChurn');
    expect(outcome.functionError).toBeUndefined();
    expect(JSON.parse(outcome.body)).toBe(1000 * MB);
  });

  it('reports Buffers in Max Memory Used', async () => {
    const outcome = await invoke('bigButAllowed');
    expect(outcome.functionError).toBeUndefined();
    expect(outcome.maxMemoryUsedMb).toBeGreaterThanOrEqual(200);
  });

  it('logs a 1 MB line cut to 256 KB', async () => {
    const outcome = await invoke('longLine');
    expect(outcome.body).toBe('"logged"');
    expect(outcome.logs).toHaveLength(1);
    expect(outcome.logs[0]!.length).toBeLessThan(MAX_LOG_LINE_CHARS + 200);
    expect(outcome.logs[0]).toMatch(/y… \(line cut at 262144 characters\)$/);
  });
});

/**
 * A thread that answers as told by the payload's `mode`, speaking the runtime's protocol (or
 * failing to): what forged or broken answers look like when they do reach the main thread.
 */
const fakeThread = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-fake-thread-')), 'thread.js');
fs.writeFileSync(
  fakeThread,
  `const threads = require('node:worker_threads');
const { port } = threads.workerData.runtime;
const answer = (token, extra) => ({ kind: 'result', token, body: '"fine"', initMs: undefined, durationMs: 1, memoryUsedMb: 1, ...extra });
port.on('message', (m) => {
  const { mode } = JSON.parse(m.payload);
  if (m.requestId === 'first') port.postMessage({ kind: 'init-done', token: m.token });
  if (mode === 'good') port.postMessage(answer(m.token));
  if (mode === 'oversized') port.postMessage(answer(m.token, { body: JSON.stringify('z'.repeat(${MAX_RESPONSE_BYTES})) }));
  if (mode === 'wrong-token') port.postMessage(answer('0123456789abcdef', { body: '"forged"' }));
  if (mode === 'request-id-only') port.postMessage(answer(undefined, { requestId: m.requestId, body: '"forged"' }));
  if (mode === 'bad-shape') port.postMessage({ kind: 'result', token: m.token, body: { not: 'a string' }, durationMs: 1, memoryUsedMb: 1 });
  if (mode === 'unknown-kind') port.postMessage({ kind: 'exit-now', token: m.token });
  if (mode === 'parent-port') threads.parentPort.postMessage(answer(m.token, { body: '"forged"' }));
});
`,
);

describe('the main thread’s check of each answer', () => {
  const environments: Environment[] = [];
  afterEach(async () => {
    await Promise.all(environments.splice(0).map((env) => env.terminate()));
  });
  const start = () => {
    const env = new Environment(fn('echo'), { region: 'us-east-1', threadEntry: fakeThread }, () => undefined);
    environments.push(env);
    return env;
  };
  const run = (env: Environment, mode: string, requestId = 'req-1'): Promise<RunReply> =>
    env.run({ requestId, payload: JSON.stringify({ mode }), clientContext: undefined, traceId: 'Root=1-0-0' });

  it('takes a well-formed answer of the run in flight', async () => {
    const env = start();
    expect(await run(env, 'good', 'first')).toMatchObject({ kind: 'result', body: '"fine"' });
    expect(await run(env, 'good')).toMatchObject({ kind: 'result', body: '"fine"' });
  });

  it('turns a result over 6 MB into Function.ResponseSizeTooLarge, whoever sent it, and keeps the environment', async () => {
    const env = start();
    const reply = await run(env, 'oversized', 'first');
    expect(reply).toMatchObject({
      kind: 'function-error',
      error: {
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
      },
    });
    expect(env.isDead).toBe(false);
    expect(await run(env, 'good')).toMatchObject({ kind: 'result', body: '"fine"' });
  });

  it.each([
    ['another run’s token', 'wrong-token', /does not answer the run in flight/],
    ['only the request id', 'request-id-only', /does not answer the run in flight/],
    ['a body that is not a string', 'bad-shape', /result without a body/],
    ['an unknown kind', 'unknown-kind', /unknown kind "exit-now"/],
    ['a message on parentPort', 'parent-port', /parentPort/],
  ])('refuses an answer with %s: the call gets Runtime.InvalidReply and the environment ends', async (_what, mode, reason) => {
    const env = start();
    const reply = await run(env, mode, 'first');
    expect(reply).toMatchObject({ kind: 'function-error', error: { errorType: 'Runtime.InvalidReply', errorMessage: expect.stringMatching(reason) } });
    expect(JSON.stringify(reply)).not.toContain('forged');
    expect(env.isDead).toBe(true);
  });
});
