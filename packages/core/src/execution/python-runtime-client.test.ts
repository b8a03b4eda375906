import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { waitFor } from '../../../../test/support/harness';
import { RuntimeApiServer, type RuntimeInvocation, type RuntimeOutcome } from './runtime-api-server';

const RUNTIME_CLIENT = join(__dirname, '../../runtimes/python/invoq_runtime.py');

// The real interpreter (not a version manager's shim), resolved once; undefined when there is none.
const python = ((): string | undefined => {
  const found = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() || undefined : undefined;
})();

const APP = `
import json
import logging
import os
import time

calls = 0

def echo(event, context):
    return {"echo": event}

def fields(event, context):
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client_context": None if cc is None else {
            "custom": cc.custom,
            "env": cc.env,
            "client": None if cc.client is None else {"app_title": cc.client.app_title, "installation_id": cc.client.installation_id},
        },
        "identity": None if context.identity is None else {
            "cognito_identity_id": context.identity.cognito_identity_id,
            "cognito_identity_pool_id": context.identity.cognito_identity_pool_id,
        },
    }

def _fail(n):
    raise ValueError("bad input " + str(n))

def boom(event, context):
    _fail(event["n"])

def logs(event, context):
    print("printed", event["n"])
    logging.getLogger().info("logged %s", event["n"])
    logging.getLogger("quiet").debug("debug is below INFO")
    return "ok"

def count(event, context):
    global calls
    calls += 1
    return calls

def unmarshalable(event, context):
    return {"s": {1, 2}}

def trace(event, context):
    return os.environ.get("_X_AMZN_TRACE_ID")

def big(event, context):
    return "x" * event["size"]

def slow(event, context):
    time.sleep(0.3)
    return "slept"
`;

interface Runtime {
  server: RuntimeApiServer;
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  /** Connections the runtime opened to the server. */
  connections: () => number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function taskRoot(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'invoq-py-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

async function startRuntime(
  handler: string,
  options: { files?: Record<string, string>; env?: Record<string, string>; maxResponseBytes?: number; onDelivered?: () => void } = {},
): Promise<Runtime> {
  const server = await RuntimeApiServer.start({ maxResponseBytes: options.maxResponseBytes, onDelivered: options.onDelivered });
  cleanups.push(() => server.close());
  let connections = 0;
  (server as unknown as { server: Server }).server.on('connection', () => connections++);
  const dir = taskRoot(options.files ?? { 'app.py': APP });
  const child = spawn(python!, ['-u', RUNTIME_CLIENT], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      LANG: 'C.UTF-8',
      TMPDIR: dir,
      TZ: ':UTC',
      AWS_LAMBDA_RUNTIME_API: server.address,
      _HANDLER: handler,
      LAMBDA_TASK_ROOT: dir,
      LAMBDA_RUNTIME_DIR: dirname(RUNTIME_CLIENT),
      AWS_EXECUTION_ENV: 'AWS_Lambda_python3.12',
      AWS_LAMBDA_FUNCTION_NAME: 'py-fn',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/py-fn',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/01/[$LATEST]0123456789abcdef',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, as a process environment will be; the whole group is killed after.
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await exited;
  });
  return { server, child, stdout: () => stdout, stderr: () => stderr, exited, connections: () => connections };
}

function invocation(requestId: string, payload: unknown, extra: Partial<RuntimeInvocation> = {}): RuntimeInvocation {
  return {
    requestId,
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    deadlineMs: Date.now() + 60_000,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:py-fn',
    traceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    ...extra,
  };
}

const json = (outcome: RuntimeOutcome): unknown => JSON.parse(outcome.body.toString());

const suite = python || process.env.CI === 'true' ? describe : describe.skip;

suite('invoq_runtime.py (the Python runtime client)', () => {
  it('has python3 on PATH (required in CI)', () => {
    expect(python).toBeDefined();
  });

  it('round-trips an event and a result, warm, over one keep-alive connection; module state survives', async () => {
    const runtime = await startRuntime('app.echo');
    expect(await runtime.server.invoke(invocation('r-1', { n: 1, s: 'é' }))).toEqual({ kind: 'response', body: Buffer.from('{"echo": {"n": 1, "s": "é"}}') });
    expect(json(await runtime.server.invoke(invocation('r-2', [1, null])))).toEqual({ echo: [1, null] });
    expect(runtime.connections()).toBe(1);

    const counter = await startRuntime('app.count');
    expect(json(await counter.server.invoke(invocation('c-1', {})))).toBe(1);
    expect(json(await counter.server.invoke(invocation('c-2', {})))).toBe(2);
  });

  it('gives the handler every context field', async () => {
    const runtime = await startRuntime('app.fields');
    const deadlineMs = Date.now() + 30_000;
    const clientContext = JSON.stringify({ client: { app_title: 'app', installation_id: 'inst' }, custom: { k: 'v' }, env: { platform: 'x' } });
    const cognitoIdentity = JSON.stringify({ cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' });
    const result = json(await runtime.server.invoke(invocation('ctx-1', {}, { deadlineMs, clientContext, cognitoIdentity }))) as Record<string, unknown>;
    expect(result).toEqual({
      aws_request_id: 'ctx-1',
      function_name: 'py-fn',
      function_version: '$LATEST',
      invoked_function_arn: 'arn:aws:lambda:us-east-1:000000000000:function:py-fn',
      memory_limit_in_mb: '256',
      log_group_name: '/aws/lambda/py-fn',
      log_stream_name: '2026/12/01/[$LATEST]0123456789abcdef',
      remaining: expect.any(Number),
      client_context: { custom: { k: 'v' }, env: { platform: 'x' }, client: { app_title: 'app', installation_id: 'inst' } },
      identity: { cognito_identity_id: 'id-1', cognito_identity_pool_id: 'pool-1' },
    });
    expect(result.remaining).toBeGreaterThan(20_000);
    expect(result.remaining).toBeLessThanOrEqual(30_000);

    // Without the headers: no client context; identity is awslambdaric's empty object. A past deadline gives 0.
    const bare = json(await runtime.server.invoke(invocation('ctx-2', {}, { deadlineMs: Date.now() - 1000 })));
    expect(bare).toMatchObject({
      aws_request_id: 'ctx-2',
      remaining: 0,
      client_context: null,
      identity: { cognito_identity_id: null, cognito_identity_pool_id: null },
    });
  });

  it("posts a raised exception in awslambdaric's shape and logs it", async () => {
    const runtime = await startRuntime('app.boom');
    const outcome = await runtime.server.invoke(invocation('err-1', { n: 7 }));
    expect(outcome).toMatchObject({ kind: 'error', errorType: 'Runtime.Unknown' });
    const body = json(outcome) as { errorMessage: string; errorType: string; requestId: string; stackTrace: string[] };
    expect(body).toEqual({ errorMessage: 'bad input 7', errorType: 'ValueError', requestId: 'err-1', stackTrace: expect.any(Array) });
    expect(body.stackTrace).toHaveLength(2);
    expect(body.stackTrace[0]).toMatch(/^ {2}File ".*app\.py", line \d+, in boom\n/);
    expect(body.stackTrace[1]).toMatch(/in _fail\n\s+raise ValueError\("bad input " \+ str\(n\)\)\n$/);
    expect(body.stackTrace.join('')).not.toContain('invoq_runtime.py');
    await waitFor(
      () => runtime.stdout().includes('[ERROR] ValueError: bad input 7\rTraceback (most recent call last):\r  File "'),
      2000,
      'the error log, one line',
    );

    // The runtime carries on.
    expect((await runtime.server.invoke(invocation('err-2', { n: 8 }))).kind).toBe('error');
  });

  it('writes print and logging lines to stdout before it answers', async () => {
    const runtime = await startRuntime('app.logs');
    expect(json(await runtime.server.invoke(invocation('log-1', { n: 1 })))).toBe('ok');
    const lines = () => runtime.stdout().split('\n');
    await waitFor(() => lines().some((line) => line.startsWith('[INFO]')), 2000, 'the log line');
    expect(lines()).toContain('printed 1');
    expect(lines().find((line) => line.startsWith('[INFO]'))).toMatch(/^\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\tlog-1\tlogged 1$/);
    expect(runtime.stdout()).not.toContain('debug is below INFO');
    expect(runtime.stderr()).toBe('');

    const debug = await startRuntime('app.logs', { env: { AWS_LAMBDA_LOG_LEVEL: 'DEBUG' } });
    await debug.server.invoke(invocation('log-2', { n: 2 }));
    await waitFor(() => debug.stdout().includes('[DEBUG]'), 2000, 'the debug line');
    expect(debug.stdout()).toMatch(/^\[DEBUG\]\t\S+Z\tlog-2\tdebug is below INFO$/m);
  });

  it('copies the trace id into os.environ', async () => {
    const runtime = await startRuntime('app.trace');
    expect(json(await runtime.server.invoke(invocation('t-1', {})))).toBe('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1');
    expect(json(await runtime.server.invoke(invocation('t-2', {}, { traceId: 'Root=1-2' })))).toBe('Root=1-2');
  });

  it('imports a handler from a subfolder that uses a vendored package at the task root', async () => {
    const runtime = await startRuntime('src.handlers.main.handler', {
      files: {
        'src/handlers/main.py': 'import vendored\n\ndef handler(event, context):\n    return vendored.greet(event["who"])\n',
        'vendored/__init__.py': 'def greet(who):\n    return "hello " + who\n',
      },
    });
    expect(json(await runtime.server.invoke(invocation('v-1', { who: 'py' })))).toBe('hello py');
  });

  it('reports load failures on init/error and exits 1', async () => {
    const cases: [string, Record<string, string>, string, string | RegExp][] = [
      ['missing.handler', { 'app.py': APP }, 'Runtime.ImportModuleError', "Unable to import module 'missing': No module named 'missing'"],
      ['app.handler', { 'app.py': 'import not_there\n' }, 'Runtime.ImportModuleError', "Unable to import module 'app': No module named 'not_there'"],
      ['app.nope', { 'app.py': APP }, 'Runtime.HandlerNotFound', "Handler 'nope' missing on module 'app'"],
      ['app', { 'app.py': APP }, 'Runtime.MalformedHandlerName', "Bad handler 'app': not enough values to unpack (expected 2, got 1)"],
      ['app.handler', { 'app.py': 'def handler(:\n' }, 'Runtime.UserCodeSyntaxError', /^Syntax error in module 'app': /],
    ];
    await Promise.all(
      cases.map(async ([handler, files, errorType, message]) => {
        const runtime = await startRuntime(handler, { files });
        const initError = await runtime.server.initError;
        expect(initError.errorType).toBe(errorType);
        const body = JSON.parse(initError.body.toString()) as { errorType: string; errorMessage: string };
        expect(body).toMatchObject({ errorType, requestId: '', stackTrace: expect.any(Array) });
        expect(body.errorMessage).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
        expect(await runtime.exited).toBe(1);
        expect(runtime.stdout()).toContain(`[ERROR] ${errorType}: `);
      }),
    );
  });

  it('reports a result that is not JSON as Runtime.MarshalError and an event that is not JSON as Runtime.UnmarshalError', async () => {
    const runtime = await startRuntime('app.unmarshalable');
    const outcome = await runtime.server.invoke(invocation('m-1', {}));
    expect(outcome).toMatchObject({ kind: 'error', errorType: 'Runtime.MarshalError' });
    expect(json(outcome)).toEqual({
      errorMessage: 'Unable to marshal response: Object of type set is not JSON serializable',
      errorType: 'Runtime.MarshalError',
      requestId: 'm-1',
      stackTrace: [],
    });

    const bad = await runtime.server.invoke(invocation('u-1', '{not json'));
    expect(bad).toMatchObject({ kind: 'error', errorType: 'Runtime.UnmarshalError' });
    expect(json(bad)).toMatchObject({ errorType: 'Runtime.UnmarshalError', errorMessage: expect.stringMatching(/^Unable to unmarshal input: /) });
  });

  it('goes on to the next event after a response the server refused as too large (413)', async () => {
    const runtime = await startRuntime('app.big', { maxResponseBytes: 1000 });
    expect(await runtime.server.invoke(invocation('b-1', { size: 2000 }))).toMatchObject({ kind: 'error', errorType: 'Function.ResponseSizeTooLarge' });
    expect(json(await runtime.server.invoke(invocation('b-2', { size: 3 })))).toBe('xxx');
  });

  it('reconnects when the server closed the idle keep-alive connection while the handler ran', async () => {
    let delivered = false;
    const runtime = await startRuntime('app.slow', { onDelivered: () => (delivered = true) });
    const httpServer = (runtime.server as unknown as { server: Server }).server;
    let closed = 0;
    httpServer.on('connection', (socket: Socket) => socket.once('close', () => closed++));
    const outcome = runtime.server.invoke(invocation('s-1', {}));
    // As a keep-alive timeout would: the connection is dropped once next is answered, while the handler sleeps.
    await waitFor(() => delivered && (httpServer.closeIdleConnections(), closed > 0), 2000, 'the idle connection closed');
    expect(json(await outcome)).toBe('slept');
    expect(json(await runtime.server.invoke(invocation('s-2', {})))).toBe('slept');
    expect(runtime.connections()).toBe(2);
  });

  it('exits non-zero, quietly, when the Runtime API goes away', async () => {
    const runtime = await startRuntime('app.echo');
    await runtime.server.invoke(invocation('g-1', {}));
    await waitFor(() => (runtime.server as unknown as { waitingNexts: unknown[] }).waitingNexts.length === 1, 5000, 'next parked');
    await runtime.server.close();
    expect(await runtime.exited).toBe(1);
    expect(runtime.stderr()).toBe('');
  });
});
