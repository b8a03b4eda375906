import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RuntimeApiServer, type RuntimeInvocation } from './runtime-api-server';

// The runtime runs compiled, as the host runs it (npm test builds dist first).
const RUNTIME = join(__dirname, '../../dist/execution/node-process-runtime.js');

interface Started {
  server: RuntimeApiServer;
  child: ChildProcess;
  dir: string;
  /** Everything the runtime wrote to stdout so far. */
  stdout: () => string;
  exited: Promise<number | null>;
}

const started: Started[] = [];
afterEach(async () => {
  for (const { child, exited, server, dir } of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    await exited;
    await server.close();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }
});

async function startRuntime(files: Record<string, string>, handler: string, env: Record<string, string> = {}): Promise<Started> {
  const server = await RuntimeApiServer.start({});
  const dir = mkdtempSync(join(tmpdir(), 'invoq-noderuntime-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const child = spawn(process.execPath, [RUNTIME], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      TZ: ':UTC',
      AWS_LAMBDA_RUNTIME_API: server.address,
      _HANDLER: handler,
      LAMBDA_TASK_ROOT: dir,
      AWS_LAMBDA_FUNCTION_NAME: 'fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/fn',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/01/01/[$LATEST]abc',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const entry = { server, child, dir, stdout: () => out, exited };
  started.push(entry);
  return entry;
}

function invocation(requestId: string, payload: unknown = { n: requestId }, extra: Partial<RuntimeInvocation> = {}): RuntimeInvocation {
  return {
    requestId,
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    deadlineMs: Date.now() + 60_000,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
    traceId: 'Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0',
    ...extra,
  };
}

async function invokeJson(runtime: Started, inv: RuntimeInvocation): Promise<unknown> {
  const outcome = await runtime.server.invoke(inv);
  expect(outcome.kind).toBe('response');
  return JSON.parse(outcome.body.toString());
}

async function invokeError(runtime: Started, inv: RuntimeInvocation) {
  const outcome = await runtime.server.invoke(inv);
  if (outcome.kind !== 'error') throw new Error(`expected an error, got ${outcome.body.toString()}`);
  return { errorType: outcome.errorType, body: JSON.parse(outcome.body.toString()) as { errorType: string; errorMessage: string; trace: string[] } };
}

/** One turn of the test's own loop: pipe data that was ready with the answer is read by then. */
const oneTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('node-process-runtime', () => {
  it('imports only Node modules and its own dist folder', () => {
    const script = [
      `const fs = require('fs'); const Module = require('module'); const load = Module._load; const seen = [];`,
      `Module._load = function (request, parent, isMain) { seen.push(Module._resolveFilename(request, parent, isMain)); return load.apply(this, arguments); };`,
      `process.on('exit', () => fs.writeSync(2, JSON.stringify(seen)));`,
      `require(${JSON.stringify(RUNTIME)});`,
    ].join('\n');
    const result = spawnSync(process.execPath, ['-e', script], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(result.status).not.toBe(0); // no Runtime API: it leaves, quietly
    expect(result.stdout).toBe('');
    const seen = JSON.parse(result.stderr) as string[];
    expect(seen.length).toBeGreaterThan(3);
    const distDir = dirname(dirname(RUNTIME));
    expect(seen.filter((file) => !file.startsWith('node:') && !file.startsWith(distDir + '/'))).toEqual([]);
  });

  it('runs an async handler warm: its result, every context field, its console lines before the answer, module state', async () => {
    const runtime = await startRuntime(
      {
        'lib/app.js': `
          let calls = 0;
          exports.handler = async (event, context) => {
            calls += 1;
            console.log('hello', { n: event.n });
            console.warn('careful\\nsecond line');
            return {
              event, calls, cwd: process.cwd(), traceId: process.env._X_AMZN_TRACE_ID,
              awsRequestId: context.awsRequestId, functionName: context.functionName, functionVersion: context.functionVersion,
              invokedFunctionArn: context.invokedFunctionArn, memoryLimitInMB: context.memoryLimitInMB,
              logGroupName: context.logGroupName, logStreamName: context.logStreamName,
              clientContext: context.clientContext, identity: context.identity,
              remaining: context.getRemainingTimeInMillis(), waits: context.callbackWaitsForEmptyEventLoop,
            };
          };`,
      },
      'lib/app.handler',
    );
    const first = (await invokeJson(
      runtime,
      invocation(
        'r-1',
        { n: 1 },
        { clientContext: '{"custom":{"k":"v"},"env":{"e":1}}', cognitoIdentity: '{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}' },
      ),
    )) as Record<string, unknown>;
    await oneTurn();
    expect(first).toMatchObject({
      event: { n: 1 },
      calls: 1,
      traceId: 'Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0',
      awsRequestId: 'r-1',
      functionName: 'fn',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:fn',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/fn',
      logStreamName: '2026/01/01/[$LATEST]abc',
      clientContext: { custom: { k: 'v' }, env: { e: 1 } },
      identity: { cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' },
      waits: true,
    });
    expect(first.cwd).toBe(runtime.dir);
    expect(first.remaining).toBeGreaterThan(50_000);
    expect(first.remaining).toBeLessThanOrEqual(60_000);
    // Written and flushed before the answer was posted, one record per line.
    const lines = runtime.stdout().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tr-1\tINFO\thello \{ n: 1 \}$/));
    expect(lines).toContainEqual(expect.stringMatching(/\tr-1\tWARN\tcareful\rsecond line$/));

    const second = (await invokeJson(runtime, invocation('r-2', {}, { traceId: undefined }))) as Record<string, unknown>;
    expect(second).toMatchObject({ calls: 2, awsRequestId: 'r-2', event: {} });
    expect(second.traceId).toBeUndefined();
    expect(second.clientContext).toBeUndefined();
    expect(second.identity).toBeUndefined();
  });

  it('flushes a long burst of logging before the answer', async () => {
    const runtime = await startRuntime(
      { 'index.js': `exports.handler = async () => { for (let i = 0; i < 2000; i++) console.info('line ' + i + ' ' + 'x'.repeat(100)); return 'done'; };` },
      'index.handler',
    );
    expect(await invokeJson(runtime, invocation('burst'))).toBe('done');
    await oneTurn();
    expect(runtime.stdout()).toContain('\tburst\tINFO\tline 1999 ');
  });

  it('answers callback-style handlers: the callback waits for the event loop unless told not to; context.succeed', async () => {
    const runtime = await startRuntime(
      {
        'index.js': `
          exports.handler = (event, context, callback) => {
            if (event.mode === 'succeed') return context.succeed({ via: 'succeed' });
            if (event.mode === 'nowait') {
              context.callbackWaitsForEmptyEventLoop = false;
              setTimeout(() => {}, 3000);
              return callback(null, { via: 'nowait' });
            }
            const start = Date.now();
            setTimeout(() => { globalThis.waited = Date.now() - start; }, 300);
            callback(null, { via: 'callback' });
          };
          exports.check = async () => globalThis.waited;`,
      },
      'index.handler',
    );
    const t0 = Date.now();
    expect(await invokeJson(runtime, invocation('c-1', { mode: 'wait' }))).toEqual({ via: 'callback' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(await invokeJson(runtime, invocation('c-2', { mode: 'succeed' }))).toEqual({ via: 'succeed' });
    const t1 = Date.now();
    expect(await invokeJson(runtime, invocation('c-3', { mode: 'nowait' }))).toEqual({ via: 'nowait' });
    expect(Date.now() - t1).toBeLessThan(2000);
  });

  it('answers Runtime.NodeJsExit when an async handler never settles and its event loop empties', async () => {
    const runtime = await startRuntime({ 'index.js': `exports.handler = async () => new Promise(() => {});` }, 'index.handler');
    const { errorType, body } = await invokeError(runtime, invocation('x-1'));
    expect(errorType).toBe('Runtime.NodeJsExit');
    expect(body.errorMessage).toMatch(/Promise that was never settled/);
  });

  it("reports a thrown error in Lambda Node's shape, with its type in the header, and logs it", async () => {
    const runtime = await startRuntime({ 'index.js': `exports.handler = async () => { throw new TypeError('bad input'); };` }, 'index.handler');
    const { errorType, body } = await invokeError(runtime, invocation('e-1'));
    await oneTurn();
    // The header said TypeError; the server keeps only Runtime./Function. types.
    expect(errorType).toBe('Runtime.Unknown');
    expect(body).toEqual({ errorType: 'TypeError', errorMessage: 'bad input', trace: expect.any(Array) });
    expect(body.trace[0]).toBe('TypeError: bad input');
    expect(body.trace.join('\n')).toContain(join(runtime.dir, 'index.js'));
    expect(body.trace.join('\n')).not.toMatch(/node-process-runtime|node-handler-contract/);
    expect(runtime.stdout()).toContain('\te-1\tERROR\tTypeError: bad input\n');
    // The environment lives on.
    await invokeError(runtime, invocation('e-2'));
  });

  it('runs an ES module handler', async () => {
    const runtime = await startRuntime({ 'app.mjs': `let n = 0;\nexport const handler = async (event) => ({ esm: true, n: ++n, event });` }, 'app.handler');
    expect(await invokeJson(runtime, invocation('m-1', { a: 1 }))).toEqual({ esm: true, n: 1, event: { a: 1 } });
    expect(await invokeJson(runtime, invocation('m-2', { a: 2 }))).toEqual({ esm: true, n: 2, event: { a: 2 } });
  });

  it('gives Runtime.MarshalError for a result JSON cannot hold, Runtime.UnmarshalError for an event that is not JSON, null for undefined', async () => {
    const runtime = await startRuntime({ 'index.js': `exports.handler = async (event) => (event.big ? { n: 1n } : undefined);` }, 'index.handler');
    const marshal = await invokeError(runtime, invocation('b-1', { big: true }));
    expect(marshal.errorType).toBe('Runtime.MarshalError');
    expect(marshal.body).toMatchObject({
      errorType: 'Runtime.MarshalError',
      errorMessage: expect.stringMatching(/^Unable to stringify response body: .*BigInt/),
    });
    const unmarshal = await invokeError(runtime, invocation('b-2', 'not json'));
    expect(unmarshal.errorType).toBe('Runtime.UnmarshalError');
    expect((await runtime.server.invoke(invocation('b-3', ''))).body.toString()).toBe('null');
  });

  it.each([
    [
      'a module it requires is missing',
      { 'index.js': `require('not-installed-anywhere');\nexports.handler = async () => 1;` },
      'index.handler',
      'Runtime.ImportModuleError',
      /Cannot find module 'not-installed-anywhere'/,
    ],
    ['the handler module is missing', { 'other.js': '' }, 'src/index.handler', 'Runtime.ImportModuleError', /^Error: Cannot find module 'src\/index'/],
    [
      'the export is missing',
      { 'index.js': 'exports.other = () => 1;' },
      'index.handler',
      'Runtime.HandlerNotFound',
      /^index\.handler is undefined or not exported$/,
    ],
    ['the handler string has no export', { 'index.js': '' }, 'index', 'Runtime.MalformedHandlerName', /^Bad handler index$/],
    ['the module has a syntax error', { 'index.js': 'exports.handler = async () => {' }, 'index.handler', 'Runtime.UserCodeSyntaxError', /SyntaxError/],
  ])('posts init/error and exits 1 when %s', async (_what, files: Record<string, string>, handler, errorType, message) => {
    const runtime = await startRuntime(files, handler);
    const initError = await runtime.server.initError;
    expect(initError.errorType).toBe(errorType);
    const body = JSON.parse(initError.body.toString()) as Record<string, unknown>;
    expect(body).toMatchObject({ errorType, errorMessage: expect.stringMatching(message), trace: expect.any(Array) });
    expect(await runtime.exited).toBe(1);
    expect(runtime.stdout()).toContain(`\tundefined\tERROR\t${errorType}: `);
  });

  it('answers the run with an unhandled rejection and exits 1; exits 1 on an error thrown after the answer', async () => {
    const runtime = await startRuntime(
      {
        'index.js': `exports.handler = async () => {
          Promise.reject(new Error('nobody caught me'));
          await new Promise((resolve) => setTimeout(resolve, 1000));
        };`,
      },
      'index.handler',
    );
    const { errorType, body } = await invokeError(runtime, invocation('u-1'));
    expect(errorType).toBe('Runtime.UnhandledPromiseRejection');
    expect(body.errorMessage).toBe('Error: nobody caught me');
    expect(await runtime.exited).toBe(1);

    const late = await startRuntime(
      { 'index.js': `exports.handler = async () => { setTimeout(() => { throw new Error('late boom'); }, 50); return 'answered'; };` },
      'index.handler',
    );
    expect(await invokeJson(late, invocation('u-2'))).toBe('answered');
    expect(await late.exited).toBe(1);
    expect(late.stdout()).toMatch(/\tu-2\tERROR\tUncaught Exception \{"errorType":"Error","errorMessage":"late boom"/);
  });

  it('leaves quietly when the Runtime API goes away', async () => {
    const runtime = await startRuntime({ 'index.js': 'exports.handler = async () => 1;' }, 'index.handler');
    expect(await invokeJson(runtime, invocation('g-1'))).toBe(1);
    await runtime.server.close();
    expect(await runtime.exited).not.toBe(0);
    expect(runtime.stdout()).toBe('');
  });
});
