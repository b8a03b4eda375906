/**
 * Lambda's Node.js handler contract, run in real execution environments: how each style of
 * handler ends its invocation (aws-lambda-nodejs-runtime-interface-client's rules), and init
 * failures that a later cold start retries.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadFunctions } from '../functions/load-functions';
import type { ResolvedFunction } from '../functions/resolved-function';
import { makeFunctionsDir } from '../../../../test/support/harness';
import { Executor } from './executor';

const cjs = (source: string) => ({ config: { handler: 'index.handler' }, files: { 'index.js': source } });
const dir = makeFunctionsDir({
  succeedNow: cjs('exports.handler = (event, context) => { context.succeed({ got: event.n }); };'),
  succeedLater: cjs('exports.handler = (event, context) => { setTimeout(() => context.succeed("later"), 80); };'),
  failLater: cjs('exports.handler = (event, context) => { setTimeout(() => context.fail(new TypeError("no stock")), 30); };'),
  failEmpty: cjs('exports.handler = (event, context) => { context.fail(); };'),
  doneOk: cjs('exports.handler = (event, context) => { context.done(null, { ok: 1 }); };'),
  doneError: cjs('exports.handler = (event, context) => { context.done("plain words"); };'),
  returnsValue: cjs('exports.handler = (event, context) => ({ ignored: true });'),
  finishesWork: cjs('exports.handler = (event, context) => { setTimeout(() => console.log("work done"), 60); };'),
  firstWins: cjs('exports.handler = (event, context, callback) => { context.succeed("first"); context.fail(new Error("second")); callback(null, "third"); };'),
  asyncFails: cjs('exports.handler = async (event, context) => { context.fail(new Error("failed inside async")); return "ignored"; };'),
  waitsForLoop: cjs('exports.handler = (event, context, callback) => { setTimeout(() => {}, 250); callback(null, "after the timer"); };'),
  doesNotWait: cjs(
    'exports.handler = (event, context, callback) => { context.callbackWaitsForEmptyEventLoop = false; setTimeout(() => {}, 3000); callback(null, "at once"); };',
  ),
  neverSettles: cjs('exports.handler = async () => { await new Promise(() => {}); };'),
  heldOpen: {
    config: { handler: 'index.handler', timeout: 0.4 },
    files: { 'index.js': 'setInterval(() => {}, 1000); exports.handler = (event, context, callback) => callback(null, "never sent");' },
  },
  heldOpenNoWait: cjs(
    'setInterval(() => {}, 1000); exports.handler = (event, context, callback) => { context.callbackWaitsForEmptyEventLoop = false; callback(null, "sent"); };',
  ),
  unrefTimer: cjs('exports.handler = (event, context, callback) => { setTimeout(() => {}, 5000).unref(); callback(null, "unref does not hold"); };'),
  nested: { config: { handler: 'index.handlers.main' }, files: { 'index.js': 'exports.handlers = { main: async () => "nested" };' } },
  syntax: cjs('exports.handler = async () => { return 1 +; };'),
  missingSdk: cjs('const { S3Client } = require("@aws-sdk/client-s3-not-installed"); exports.handler = async () => 1;'),
  flaky: {
    config: { handler: 'index.handler' },
    files: {
      'index.mjs':
        'import fs from "node:fs"; if (fs.existsSync(new URL("./broken", import.meta.url))) throw new Error("init failed"); export const handler = async () => "imported";',
    },
  },
});
const fns = new Map(loadFunctions(dir).map((f) => [f.name, f]));
const fn = (name: string): ResolvedFunction => fns.get(name)!;

let executor: Executor;
beforeAll(() => {
  executor = new Executor({ maxEnvironments: 8 });
});
afterAll(async () => {
  await executor.close();
});

const run = async (name: string, payload: unknown = {}) => {
  const started = performance.now();
  const outcome = await executor.invoke(fn(name), { requestId: `req-${name}`, payload: JSON.stringify(payload) });
  return { ...outcome, result: outcome.functionError ? undefined : JSON.parse(outcome.body), elapsedMs: performance.now() - started };
};

describe('context.succeed, context.fail, context.done', () => {
  it.each([
    ['succeedNow', { n: 7 }, { got: 7 }],
    ['succeedLater', {}, 'later'],
    ['doneOk', {}, { ok: 1 }],
  ])('%s answers with its result', async (name, payload, expected) => {
    const outcome = await run(name, payload);
    expect(outcome.functionError).toBeUndefined();
    expect(outcome.result).toEqual(expected);
  });

  it.each([
    ['failLater', { errorType: 'TypeError', errorMessage: 'no stock' }],
    // context.fail() with nothing: Lambda reports the string "handled".
    ['failEmpty', { errorType: 'string', errorMessage: 'handled', trace: [] }],
    ['doneError', { errorType: 'string', errorMessage: 'plain words', trace: [] }],
    ['asyncFails', { errorType: 'Error', errorMessage: 'failed inside async' }],
  ])('%s answers with its error', async (name, error) => {
    expect((await run(name)).functionError).toMatchObject(error);
  });

  it('answers a later context.succeed, not null at once', async () => {
    const outcome = await run('succeedLater');
    expect(outcome.result).toBe('later');
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(70);
  });

  it('takes the first of succeed, fail and callback, and ignores the rest', async () => {
    const outcome = await run('firstWins');
    expect(outcome.functionError).toBeUndefined();
    expect(outcome.result).toBe('first');
  });
});

describe('a handler that is neither async nor takes a callback', () => {
  it('is answered null, whatever it returns (Lambda ignores a plain return value)', async () => {
    expect((await run('returnsValue')).body).toBe('null');
  });

  it('is answered once its work is done, with that work’s log lines in its own run', async () => {
    const outcome = await run('finishesWork');
    expect(outcome.body).toBe('null');
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(55);
    expect(outcome.logs).toEqual([expect.stringMatching(/\treq-finishesWork\tINFO\twork done$/)]);
  });
});

describe('callbackWaitsForEmptyEventLoop', () => {
  it('waits, by default, for the event loop to empty before answering the callback', async () => {
    const outcome = await run('waitsForLoop');
    expect(outcome.result).toBe('after the timer');
    expect(outcome.elapsedMs).toBeGreaterThanOrEqual(240);
  });

  it('answers at once when the handler sets it to false', async () => {
    const outcome = await run('doesNotWait');
    expect(outcome.result).toBe('at once');
    // Well short of the 3 s timer it left; the cold start counts too, and a loaded machine is slow.
    expect(outcome.elapsedMs).toBeLessThan(1500);
  });

  it('times out a callback whose event loop never empties, as in Lambda', async () => {
    expect((await run('heldOpen')).functionError?.errorType).toBe('Sandbox.Timedout');
  });

  it('answers despite a busy loop once set to false, and an unref’d timer never holds it', async () => {
    expect((await run('heldOpenNoWait')).result).toBe('sent');
    const unref = await run('unrefTimer');
    expect(unref.result).toBe('unref does not hold');
    expect(unref.elapsedMs).toBeLessThan(2000);
  });

  it('reports an async handler whose promise never settles as Runtime.NodeJsExit', async () => {
    const outcome = await run('neverSettles');
    expect(outcome.functionError).toMatchObject({ errorType: 'Runtime.NodeJsExit', errorMessage: expect.stringContaining('Promise that was never settled') });
  });
});

describe('loading the handler', () => {
  it('finds a nested handler path, as Lambda reads index.handlers.main', async () => {
    expect((await run('nested')).result).toBe('nested');
  });

  it('reports a syntax error as Runtime.UserCodeSyntaxError', async () => {
    expect((await run('syntax')).functionError).toMatchObject({
      errorType: 'Runtime.UserCodeSyntaxError',
      errorMessage: expect.stringMatching(/^SyntaxError: /),
    });
  });

  it('reports a missing AWS SDK as Runtime.ImportModuleError, and says where it must come from', async () => {
    const error = (await run('missingSdk')).functionError;
    expect(error?.errorType).toBe('Runtime.ImportModuleError');
    expect(error?.errorMessage).toMatch(/^Error: Cannot find module '@aws-sdk\/client-s3-not-installed'\nRequire stack:/);
    expect(error?.errorMessage).toContain('does not include the AWS SDK');
  });

  it('imports a module whose init failed again at the next cold start', async () => {
    const marker = path.join(fn('flaky').directory, 'broken');
    fs.writeFileSync(marker, '');
    const failed = await run('flaky');
    expect(failed.functionError).toMatchObject({ errorType: 'Error', errorMessage: 'init failed' });
    // The failed environment is gone; the same failure again while the cause remains.
    expect((await run('flaky')).functionError?.errorMessage).toBe('init failed');
    fs.rmSync(marker);
    // An ES module that failed stays failed in its thread: only a fresh environment imports it anew.
    expect((await run('flaky')).result).toBe('imported');
  });
});
