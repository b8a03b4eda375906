/**
 * Python functions end to end, over Lambda's HTTP API, as a folder function and as one deployed
 * with a zip: the `context` awslambdaric gives, an exception's shape, a timeout that kills a busy
 * loop, warm module state, `print` and `logging` in the log tail, a module vendored in the zip,
 * waiting calls that overlap, events that succeed or retry into the DLQ, the memory limit, and
 * one environment's Runtime API refusing another environment.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXAMPLE_FUNCTIONS_DIR, makeFunctionsDir, testConfig, uniquePrefix, waitFor } from '../support/harness';
import { startStack, type Stack } from '../support/stack';
import { makeZip } from '../support/zip-files';

const mustRun = process.env.CI === 'true';
const hasPython = spawnSync('python3', ['--version'], { encoding: 'utf8' }).status === 0;
const suite = hasPython || mustRun ? describe : describe.skip;

const REGION = 'us-east-1';
const arnOf = (name: string) => `arn:aws:lambda:${REGION}:000000000000:function:${name}`;
const LOG_STREAM = /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/;

/** One handler for most tests, chosen by the event's `action`. */
const APP_PY = `import json, logging, os, time, urllib.request, urllib.error, uuid

ENV_ID = uuid.uuid4().hex
COUNT = 0

def _obj(o):
    return None if o is None else {k: getattr(o, k) for k in o.__slots__}

def handler(event, context):
    global COUNT
    action = event.get("action")
    if action == "context":
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
            "client_context": None if cc is None else {"client": _obj(cc.client), "custom": cc.custom, "env": cc.env},
            "identity": _obj(context.identity),
        }
    if action == "raise":
        raise ValueError("bad input: " + str(event.get("why")))
    if action == "count":
        COUNT += 1
        return {"env": ENV_ID, "count": COUNT}
    if action == "log":
        print("printed " + event["mark"])
        logging.info("logged %s", event["mark"])
        return "logged"
    if action == "sleep":
        start = time.time()
        time.sleep(0.5)
        return {"env": ENV_ID, "start": start, "end": time.time()}
    if action == "vendored":
        import greeter
        return greeter.greet(event["name"])
    if action == "address":
        return os.environ["AWS_LAMBDA_RUNTIME_API"]
    if action == "steal":
        url = "http://" + event["address"] + "/2018-06-01/runtime/invocation/next"
        try:
            with urllib.request.urlopen(url, timeout=2) as res:
                return {"status": res.status, "body": res.read().decode()}
        except urllib.error.HTTPError as e:
            return {"status": e.code, "body": e.read().decode()}
    return {"echo": event}
`;

const SPIN_PY = `def handler(event, context):
    while True:
        pass
`;

const HOG_PY = `import time

def handler(event, context):
    hog = b"\\x01" * (300 * 1024 * 1024)
    time.sleep(5)
    return len(hog)
`;

const python = (files: Record<string, string>, config: Record<string, unknown> = {}) => ({
  config: { runtime: 'python3.12', handler: 'app.handler', memorySize: 128, timeout: 3, circuitBreaker: false, ...config },
  files,
});

const functionsDir = makeFunctionsDir({
  pyfolder: python({ 'app.py': APP_PY }),
  pythief: python({ 'app.py': APP_PY }),
  pyspin: python({ 'app.py': SPIN_PY }, { timeout: 1 }),
  pyhog: python({ 'app.py': HOG_PY }, { timeout: 10, async: { maximumRetryAttempts: 0 } }),
  // The bundled example, as `npm start` serves it.
  helloPython: {
    config: JSON.parse(fs.readFileSync(path.join(EXAMPLE_FUNCTIONS_DIR, 'helloPython', 'function.json'), 'utf8')),
    files: { 'app.py': fs.readFileSync(path.join(EXAMPLE_FUNCTIONS_DIR, 'helloPython', 'app.py'), 'utf8') },
  },
});

const ZIP = makeZip([
  { name: 'app.py', content: APP_PY, mode: 0o644 },
  { name: 'greeter/__init__.py', content: 'from .words import hello\n\ndef greet(name):\n    return hello() + ", " + name\n', mode: 0o644 },
  { name: 'greeter/words.py', content: 'def hello():\n    return "hello"\n', mode: 0o644 },
]);
const DEPLOYED = 'pyzip';

let stack: Stack;
let base: string;
const codeCache = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-pycode-'));

const invoke = (fn: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers, body: JSON.stringify(body) });
const call = async (fn: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await invoke(fn, body, headers);
  return { res, requestId: res.headers.get('x-amzn-requestid')!, body: (await res.json()) as any };
};
const status = async (id: string) => (await (await fetch(`${base}/invocations/${id}?wait=10`)).json()) as Record<string, any>;
/** Waits for an event to finish (its status succeeded or dead-lettered). */
const settled = (id: string) =>
  waitFor(
    async () => {
      const s = await status(id);
      return (s.status === 'succeeded' || s.status === 'dead-lettered') && s;
    },
    20_000,
    `event ${id} to settle`,
  );

suite('Python functions (python3.12)', () => {
  beforeAll(async () => {
    if (!hasPython) throw new Error('python3 is not installed, and CI=true requires these tests to run');
    stack = await startStack(
      testConfig({
        INVOQ_FUNCTIONS_DIR: functionsDir,
        INVOQ_QUEUE_PREFIX: uniquePrefix('python'),
        INVOQ_RETRY_BASE_DELAY_MS: '10',
        INVOQ_REGION: REGION,
        INVOQ_CODE_CACHE_DIR: codeCache,
      }),
    );
    base = stack.base;
    const created = await fetch(`${base}/2015-03-31/functions`, {
      method: 'POST',
      body: JSON.stringify({
        FunctionName: DEPLOYED,
        Runtime: 'python3.12',
        Role: 'arn:aws:iam::000000000000:role/any',
        Handler: 'app.handler',
        Code: { ZipFile: ZIP.toString('base64') },
        MemorySize: 128,
        Timeout: 3,
      }),
    });
    expect(created.status).toBe(201);
    await waitFor(
      async () => {
        const got = (await (await fetch(`${base}/2015-03-31/functions/${DEPLOYED}`)).json()) as any;
        return got.Configuration?.State === 'Active';
      },
      20_000,
      'the deployed function to be Active',
    );
  }, 40_000);
  afterAll(async () => {
    await stack?.close();
    fs.rmSync(codeCache, { recursive: true, force: true });
  });

  describe.each([
    ['a folder function', 'pyfolder'],
    ['a deployed function', DEPLOYED],
  ])('%s', (_what, name) => {
    it('gives the handler awslambdaric’s context', async () => {
      const clientContext = { client: { installation_id: 'inst-1', app_title: 'App' }, custom: { k: 'v' }, env: { platform: 'test' } };
      const { res, requestId, body } = await call(
        name,
        { action: 'context' },
        { 'X-Amz-Client-Context': Buffer.from(JSON.stringify(clientContext)).toString('base64') },
      );
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-function-error')).toBeNull();
      expect(body).toEqual({
        aws_request_id: requestId,
        function_name: name,
        function_version: '$LATEST',
        invoked_function_arn: arnOf(name),
        memory_limit_in_mb: '128',
        log_group_name: `/aws/lambda/${name}`,
        log_stream_name: expect.stringMatching(LOG_STREAM),
        remaining: expect.any(Number),
        client_context: {
          client: { installation_id: 'inst-1', app_title: 'App', app_version_name: null, app_version_code: null, app_package_name: null },
          custom: { k: 'v' },
          env: { platform: 'test' },
        },
        identity: { cognito_identity_id: null, cognito_identity_pool_id: null },
      });
      expect(body.remaining).toBeGreaterThan(0);
      expect(body.remaining).toBeLessThanOrEqual(3000);
      // Without the header, no client context.
      expect((await call(name, { action: 'context' })).body.client_context).toBeNull();
    });

    it('answers an exception as Unhandled, in awslambdaric’s shape', async () => {
      const { res, requestId, body } = await call(name, { action: 'raise', why: 'x' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
      expect(body).toEqual({ errorType: 'ValueError', errorMessage: 'bad input: x', stackTrace: expect.any(Array), requestId });
      expect(body.stackTrace.join('')).toMatch(/File ".*app\.py", line \d+, in handler\n\s+raise ValueError/);
      expect(body.stackTrace.join('')).not.toMatch(/invoq_runtime/);
    });

    it('puts print and logging lines in the log tail, framed by START, END and REPORT', async () => {
      const mark = `m-${Math.random().toString(36).slice(2)}`;
      const { res, requestId, body } = await call(name, { action: 'log', mark }, { 'X-Amz-Log-Type': 'Tail' });
      expect(body).toBe('logged');
      const tail = Buffer.from(res.headers.get('x-amz-log-result')!, 'base64').toString();
      expect(tail).toContain(`START RequestId: ${requestId}`);
      expect(tail).toContain(`printed ${mark}\n`);
      expect(tail).toMatch(new RegExp(`\\[INFO\\]\\t\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${requestId}\\tlogged ${mark}\\n`));
      expect(tail).toContain(`END RequestId: ${requestId}`);
      expect(tail).toMatch(new RegExp(`REPORT RequestId: ${requestId}\\tDuration: [\\d.]+ ms`));
      expect(tail.indexOf(`START RequestId: ${requestId}`)).toBeLessThan(tail.indexOf(`printed ${mark}`));
      expect(tail.indexOf(`printed ${mark}`)).toBeLessThan(tail.indexOf(`END RequestId: ${requestId}`));
    });

    it('keeps module state between warm calls', async () => {
      const first = (await call(name, { action: 'count' })).body;
      const second = (await call(name, { action: 'count' })).body;
      expect(second).toEqual({ env: first.env, count: first.count + 1 });
    });

    it('runs an Event invocation that succeeds, its result in the status', async () => {
      const res = await invoke(name, { action: 'context' }, { 'X-Amz-Invocation-Type': 'Event' });
      expect(res.status).toBe(202);
      const id = res.headers.get('x-amzn-requestid')!;
      expect(await settled(id)).toMatchObject({
        status: 'succeeded',
        attempts: 1,
        result: { aws_request_id: id, function_name: name, invoked_function_arn: arnOf(name), client_context: null },
      });
    });

    it('retries an Event invocation that raises, three attempts, into the DLQ with the Python error', async () => {
      const res = await invoke(name, { action: 'raise', why: 'event' }, { 'X-Amz-Invocation-Type': 'Event' });
      expect(res.status).toBe(202);
      const id = res.headers.get('x-amzn-requestid')!;
      expect(await settled(id)).toMatchObject({ status: 'dead-lettered', attempts: 3 });
      const entry = (await (await fetch(`${base}/dlq/${id}`)).json()) as Record<string, any>;
      expect(entry).toMatchObject({
        functionName: name,
        reason: 'RetriesExhausted',
        error: { errorType: 'ValueError', errorMessage: 'bad input: event' },
        payload: { action: 'raise', why: 'event' },
      });
    });
  });

  it('runs the bundled example helloPython, warm on its second call', async () => {
    const first = await call('helloPython', { name: 'invoq' });
    expect(first.body).toMatchObject({ greeting: 'hello, invoq', requestId: first.requestId, warmCalls: 1 });
    const second = await call('helloPython', {});
    expect(second.body).toMatchObject({ greeting: 'hello, world', warmCalls: 2 });
  });

  it('imports a package vendored in the zip', async () => {
    const { res, body } = await call(DEPLOYED, { action: 'vendored', name: 'zip' });
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(body).toBe('hello, zip');
  });

  it('kills a busy loop at the timeout, and the next call works', async () => {
    const { res, requestId, body } = await call('pyspin', {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(body).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${requestId} Error: Task timed out after 1.00 seconds` });
    // The folder function beside it is untouched, and the timed-out one runs again (and times out again, cleanly).
    expect((await call('pyfolder', { action: 'echo' })).body).toEqual({ echo: { action: 'echo' } });
    const again = await call('pyspin', {});
    expect(again.body).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${again.requestId} Error: Task timed out after 1.00 seconds` });
  }, 15_000);

  it('runs four waiting calls at once, each in its own environment', async () => {
    // Four environments started (cold) first, so the timed round measures the calls, not the starts.
    // On a slow machine a cold start can outlast a call, which then goes to an environment already
    // up: another round starts the missing one.
    for (let round = 0; round < 4; round++) {
      const warm = await Promise.all(Array.from({ length: 4 }, () => call('pyfolder', { action: 'sleep' })));
      if (new Set(warm.map((a) => (a.body as { env: string }).env)).size === 4) break;
    }
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 4 }, () => call('pyfolder', { action: 'sleep' })));
    const wallMs = Date.now() - started;
    const runs = answers.map((a) => a.body as { env: string; start: number; end: number });
    expect(new Set(runs.map((r) => r.env)).size).toBe(4);
    // Every run started before any ended: they overlapped.
    expect(Math.max(...runs.map((r) => r.start))).toBeLessThan(Math.min(...runs.map((r) => r.end)));
    console.log(`four overlapping 0.5 s calls: ${wallMs} ms`);
    expect(wallMs).toBeLessThan(1800);
  }, 20_000);

  it('fails a handler that outgrows memorySize 128 with Runtime.OutOfMemory', async () => {
    const { res, body } = await call('pyhog', {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(body).toMatchObject({ errorType: 'Runtime.OutOfMemory', errorMessage: expect.stringMatching(/out of memory \(memorySize 128 MB/) });
  }, 20_000);

  it('refuses another environment’s Runtime API address (403 Runtime.AccessDenied), and its owner still works', async () => {
    const address = (await call('pyfolder', { action: 'address' })).body as string;
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    const stolen = (await call('pythief', { action: 'steal', address })).body as { status: number; body: string };
    expect(stolen.status).toBe(403);
    expect(JSON.parse(stolen.body)).toMatchObject({ errorType: 'Runtime.AccessDenied' });
    const after = await call('pyfolder', { action: 'context' });
    expect(after.res.headers.get('x-amz-function-error')).toBeNull();
    expect(after.body.aws_request_id).toBe(after.requestId);
  });
});
