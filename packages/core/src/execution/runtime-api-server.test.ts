import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../../../test/support/harness';
import { sessionAuthorizer } from './runtime-api-peer';
import { RuntimeApiServer, type RuntimeInvocation } from './runtime-api-server';

const servers: RuntimeApiServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function startServer(maxResponseBytes?: number): Promise<RuntimeApiServer> {
  const server = await RuntimeApiServer.start({ maxResponseBytes });
  servers.push(server);
  return server;
}

function invocation(requestId: string, extra: Partial<RuntimeInvocation> = {}): RuntimeInvocation {
  return {
    requestId,
    payload: JSON.stringify({ n: requestId }),
    deadlineMs: 1_900_000_000_000,
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
    traceId: 'Root=1-00000000-000000000000000000000000;Parent=0000000000000000;Sampled=0',
    ...extra,
  };
}

const url = (server: RuntimeApiServer, path: string) => `http://${server.address}${path}`;
const next = (server: RuntimeApiServer) => fetch(url(server, '/2018-06-01/runtime/invocation/next'));
const post = (server: RuntimeApiServer, path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url(server, path), { method: 'POST', body, headers });

describe('RuntimeApiServer', () => {
  it('holds next until an invoke, then sends the event with its headers', async () => {
    const server = await startServer();
    let answered = false;
    const pending = next(server).then((res) => ((answered = true), res));
    // Give the long poll a chance to be answered early; it must not be.
    await new Promise((resolve) => setImmediate(resolve));
    await fetch(url(server, '/2018-06-01/ping'));
    expect(answered).toBe(false);

    const outcome = server.invoke(invocation('req-1', { clientContext: '{"custom":{}}' }));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('lambda-runtime-aws-request-id')).toBe('req-1');
    expect(res.headers.get('lambda-runtime-deadline-ms')).toBe('1900000000000');
    expect(res.headers.get('lambda-runtime-invoked-function-arn')).toBe('arn:aws:lambda:us-east-1:000000000000:function:f');
    expect(res.headers.get('lambda-runtime-trace-id')).toMatch(/^Root=1-/);
    expect(res.headers.get('lambda-runtime-client-context')).toBe('{"custom":{}}');
    expect(res.headers.has('lambda-runtime-cognito-identity')).toBe(false);
    expect(await res.text()).toBe('{"n":"req-1"}');

    const accepted = await post(server, '/2018-06-01/runtime/invocation/req-1/response', '{"ok":true}');
    expect(accepted.status).toBe(202);
    expect(await accepted.text()).toBe('{"status":"OK"}\n');
    expect(await outcome).toEqual({ kind: 'response', body: Buffer.from('{"ok":true}') });

    // The next event goes to the next call, which carries no client context this time.
    const second = server.invoke(invocation('req-2'));
    const res2 = await next(server);
    expect(res2.headers.get('lambda-runtime-aws-request-id')).toBe('req-2');
    expect(res2.headers.has('lambda-runtime-client-context')).toBe(false);
    await res2.text();
    await post(server, '/2018-06-01/runtime/invocation/req-2/response', 'null');
    expect((await second).kind).toBe('response');
  });

  it('reports an error with the runtime type header, scrubbing types of the wrong shape', async () => {
    const server = await startServer();
    const outcome = server.invoke(invocation('e-1'));
    await (await next(server)).text();
    const errorBody = '{"errorMessage":"boom","errorType":"ValueError","stackTrace":[]}';
    const res = await post(server, '/2018-06-01/runtime/invocation/e-1/error', errorBody, { 'Lambda-Runtime-Function-Error-Type': 'Runtime.HandlerError' });
    expect(res.status).toBe(202);
    expect(await outcome).toEqual({ kind: 'error', errorType: 'Runtime.HandlerError', body: Buffer.from(errorBody) });

    const untyped = server.invoke(invocation('e-2'));
    await (await next(server)).text();
    await post(server, '/2018-06-01/runtime/invocation/e-2/error', '{}', { 'Lambda-Runtime-Function-Error-Type': 'Unhandled' });
    expect(await untyped).toMatchObject({ kind: 'error', errorType: 'Runtime.Unknown' });
  });

  it('answers 413 past the limit and gives the caller Function.ResponseSizeTooLarge; a later error post is a state error', async () => {
    const server = await startServer(16);
    const outcome = server.invoke(invocation('big'));
    await (await next(server)).text();
    const res = await post(server, '/2018-06-01/runtime/invocation/big/response', 'x'.repeat(17));
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ errorMessage: 'Exceeded maximum allowed payload size (16 bytes).', errorType: 'RequestEntityTooLarge' });
    const result = await outcome;
    expect(result).toMatchObject({ kind: 'error', errorType: 'Function.ResponseSizeTooLarge' });
    expect(JSON.parse(result.body.toString())).toEqual({
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage: 'Response payload size (17 bytes) exceeded maximum allowed payload size (16 bytes).',
    });
    const after = await post(server, '/2018-06-01/runtime/invocation/big/error', '{}');
    expect(after.status).toBe(403);
    expect(await after.json()).toMatchObject({ errorType: 'InvalidStateTransition' });
  });

  it('refuses a wrong request id (400) and a second answer (403, then 400 once next was called)', async () => {
    const server = await startServer();
    const none = await post(server, '/2018-06-01/runtime/invocation/nobody/response', '{}');
    expect(none.status).toBe(400);
    expect(await none.text()).toBe('{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n');

    const outcome = server.invoke(invocation('a-1'));
    await (await next(server)).text();
    const wrong = await post(server, '/2018-06-01/runtime/invocation/a-2/response', '{}');
    expect(wrong.status).toBe(400);
    expect(await post(server, '/2018-06-01/runtime/invocation/a-1/response', '1').then((r) => r.status)).toBe(202);
    await outcome;

    const again = await post(server, '/2018-06-01/runtime/invocation/a-1/error', '{}');
    expect(again.status).toBe(403);
    expect(await again.json()).toEqual({
      errorMessage: 'State transition from RuntimeResponseSentState to InvocationErrorResponse failed for runtime. Error: State transition is not allowed',
      errorType: 'InvalidStateTransition',
    });

    const parked = next(server);
    await waitFor(async () => (await post(server, '/2018-06-01/runtime/invocation/a-1/response', '1')).status === 400, 5000, 'a-1 no longer current');
    // Closing the server in afterEach rejects b-1; that rejection is expected.
    server.invoke(invocation('b-1')).catch(() => undefined);
    expect(() => server.invoke(invocation('b-2'))).toThrow(/still outstanding/);
    expect((await parked).headers.get('lambda-runtime-aws-request-id')).toBe('b-1');
  });

  it('fires initError with the type and body; next is then refused', async () => {
    const server = await startServer();
    const body = '{"errorMessage":"no module","errorType":"Runtime.ImportModuleError"}';
    const res = await post(server, '/2018-06-01/runtime/init/error', body, { 'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError' });
    expect(res.status).toBe(202);
    expect(await server.initError).toEqual({ errorType: 'Runtime.ImportModuleError', body: Buffer.from(body) });
    const refused = await next(server);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ errorType: 'InvalidStateTransition' });
  });

  it('answers other paths as the emulator does', async () => {
    const server = await startServer();
    const unknown = await fetch(url(server, '/2018-06-01/runtime/nothing'));
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe('404 page not found\n');
    expect((await post(server, '/2018-06-01/runtime/invocation/next', '')).status).toBe(405);
    expect((await fetch(url(server, '/2020-01-01/extension/register'), { method: 'POST' })).status).toBe(404);
    const telemetry = await fetch(url(server, '/2022-07-01/telemetry'), { method: 'PUT', body: '{}' });
    expect(telemetry.status).toBe(202);
    expect(await telemetry.json()).toEqual({ errorMessage: 'Telemetry API is not supported', errorType: 'Telemetry.NotSupported' });
  });

  it('close() ends a waiting next and rejects the invocation in flight', async () => {
    const server = await RuntimeApiServer.start({});
    const parked = next(server).then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor(() => (server as unknown as { waitingNexts: unknown[] }).waitingNexts.length === 1, 5000, 'next parked');
    const outcome = server.invoke(invocation('c-1'));
    // The parked next took c-1; a second runtime call would have to wait for the next event.
    await expect(parked).resolves.toBe('answered');
    await server.close();
    await expect(outcome).rejects.toThrow(/closed/);
    await expect(server.invoke(invocation('c-2'))).rejects.toThrow(/closed/);
  });

  it('close() with a next parked and nothing invoked finishes', async () => {
    const server = await RuntimeApiServer.start({});
    const parked = next(server).then(
      () => 'answered',
      () => 'failed',
    );
    await waitFor(() => (server as unknown as { waitingNexts: unknown[] }).waitingNexts.length === 1, 5000, 'next parked');
    await server.close();
    await expect(parked).resolves.toBe('failed');
  });

  const hasCurl = spawnSync('curl', ['--version']).status === 0;
  if (!hasCurl && process.env.CI !== 'true') {
    it.skip('runs the custom-runtime tutorial bootstrap (curl is not installed)', () => undefined);
  } else {
    it('runs the custom-runtime tutorial bootstrap, warm, for two invocations', async () => {
      const server = await startServer();
      const dir = mkdtempSync(join(tmpdir(), 'invoq-rapi-'));
      const bootstrap = join(dir, 'bootstrap');
      writeFileSync(
        bootstrap,
        [
          '#!/bin/bash',
          'set -euo pipefail',
          'while true; do',
          '  HEADERS=$(mktemp)',
          '  EVENT=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")',
          '  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d \'[:space:]\' | cut -d: -f2)',
          '  RESPONSE="{\\"echo\\": $EVENT}"',
          '  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE" > /dev/null',
          'done',
          '',
        ].join('\n'),
      );
      chmodSync(bootstrap, 0o755);
      // Its own process group, as a process environment will be: the loop's subshells and curls die with it.
      const child = spawn(bootstrap, [], {
        env: { PATH: process.env.PATH, AWS_LAMBDA_RUNTIME_API: server.address, TMPDIR: dir },
        stdio: 'ignore',
        detached: true,
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        const first = await server.invoke(invocation('warm-1'));
        expect(JSON.parse(first.body.toString())).toEqual({ echo: { n: 'warm-1' } });
        const second = await server.invoke(invocation('warm-2'));
        expect(JSON.parse(second.body.toString())).toEqual({ echo: { n: 'warm-2' } });
      } finally {
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
        // A killed loop's last mktemp may land a moment after its shell exited (seen once in CI).
        rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
      }
    });
  }
});

// Each environment leads a session of its own (spawned detached); only its processes may use its server.
const peerCheckable = existsSync('/proc/net/tcp') && spawnSync('curl', ['--version']).status === 0;
(peerCheckable || process.env.CI === 'true' ? describe : describe.skip)('RuntimeApiServer with authorize (the environment is a session)', () => {
  const children: ChildProcess[] = [];
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'invoq-rapi-peer-'));
  });
  afterEach(async () => {
    await Promise.all(
      children.splice(0).map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(-child.pid!, 'SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  /** A server whose environment is the session of whatever `spawnEnvironment` started last. */
  async function startGuarded(onDelivered?: (invocation: RuntimeInvocation) => void) {
    let sessionId: number | undefined;
    const server = await RuntimeApiServer.start({ onDelivered, authorize: sessionAuthorizer(() => sessionId) });
    servers.push(server);
    const spawnEnvironment = (command: string, args: string[]) => {
      const child = spawn(command, args, {
        env: { PATH: process.env.PATH, AWS_LAMBDA_RUNTIME_API: server.address, DIR: dir },
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
      });
      children.push(child);
      sessionId = child.pid;
      return child;
    };
    return { server, spawnEnvironment };
  }

  /** Runs a process in a session of its own that is not the environment's; resolves with its stdout. */
  function outsider(command: string, args: string[]): Promise<string> {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    children.push(child);
    return output(child);
  }

  function output(child: ChildProcess): Promise<string> {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
    return new Promise((resolve) => child.once('close', () => resolve(text)));
  }

  // The runtime as one node process, the session's leader, that serves one event on one connection.
  const nodeRuntime = `
    const api = 'http://' + process.env.AWS_LAMBDA_RUNTIME_API + '/2018-06-01/runtime/invocation/';
    (async () => {
      const next = await fetch(api + 'next');
      const id = next.headers.get('lambda-runtime-aws-request-id');
      const event = await next.text();
      const answer = await fetch(api + id + '/response', { method: 'POST', body: JSON.stringify({ seen: JSON.parse(event) }) });
      console.log(answer.status);
    })();
  `;

  it('serves the session leader itself: next, then the answer', async () => {
    const { server, spawnEnvironment } = await startGuarded();
    const runtime = spawnEnvironment(process.execPath, ['-e', nodeRuntime]);
    const printed = output(runtime);
    const outcome = await server.invoke(invocation('own-1'));
    expect(JSON.parse(outcome.body.toString())).toEqual({ seen: { n: 'own-1' } });
    expect((await printed).trim()).toBe('202');
  });

  it('refuses processes of other sessions with 403 and closes; the event stays for the runtime', async () => {
    let delivered = 0;
    const { server, spawnEnvironment } = await startGuarded(() => delivered++);
    const outcome = server.invoke(invocation('theirs-1'));

    // The test process is in no environment's session.
    const fromHere = await new Promise<{ status?: number; body: string; connection?: string }>((resolve, reject) => {
      get(url(server, '/2018-06-01/runtime/invocation/next'), { agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body, connection: res.headers.connection }));
      }).on('error', reject);
    });
    expect(fromHere.status).toBe(403);
    expect(fromHere.connection).toBe('close');
    expect(JSON.parse(fromHere.body)).toEqual({
      errorMessage: expect.stringMatching(/belongs to another execution environment/),
      errorType: 'Runtime.AccessDenied',
    });

    // Nor is another detached process (another environment, say).
    const other = await outsider('curl', ['-sS', '-w', '\n%{http_code}', url(server, '/2018-06-01/runtime/invocation/next')]);
    expect(other.trim().split('\n').pop()).toBe('403');
    expect(delivered).toBe(0);

    // The runtime takes the event and, before it answers, an outsider tries to answer for it.
    const runtime = spawnEnvironment('bash', [
      '-c',
      [
        'set -euo pipefail',
        'api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"',
        'curl -sS -o "$DIR/event" -D "$DIR/headers" "$api/next"',
        'touch "$DIR/took"',
        'until [ -e "$DIR/go" ]; do sleep 0.02; done',
        'curl -sS -o /dev/null -w "%{http_code}" "$api/theirs-1/response" -d "{\\"mine\\":true}"',
      ].join('\n'),
    ]);
    const printed = output(runtime);
    await waitFor(() => existsSync(join(dir, 'took')), 10_000, 'the runtime took the event');
    expect(delivered).toBe(1);
    const forged = await outsider('curl', [
      '-sS',
      '-w',
      '\n%{http_code}',
      url(server, '/2018-06-01/runtime/invocation/theirs-1/response'),
      '-d',
      '{"forged":true}',
    ]);
    expect(forged.trim().split('\n').pop()).toBe('403');
    const forgedHere = await post(server, '/2018-06-01/runtime/invocation/theirs-1/error', '{}');
    expect(forgedHere.status).toBe(403);
    writeFileSync(join(dir, 'go'), '');

    expect(await outcome).toEqual({ kind: 'response', body: Buffer.from('{"mine":true}') });
    expect(await printed).toBe('202');
  });

  it('serves a process the runtime forked (same session), over keep-alive requests', async () => {
    const { server, spawnEnvironment } = await startGuarded();
    // bash forks node; node makes both calls on one connection (fetch keeps it alive).
    const runtime = spawnEnvironment('bash', ['-c', `"${process.execPath}" -e "$0"; echo done`, nodeRuntime]);
    const printed = output(runtime);
    const outcome = await server.invoke(invocation('child-1'));
    expect(JSON.parse(outcome.body.toString())).toEqual({ seen: { n: 'child-1' } });
    expect((await printed).trim().split('\n')).toEqual(['202', 'done']);
  });
});
