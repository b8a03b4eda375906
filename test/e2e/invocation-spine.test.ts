/**
 * The whole path a user walks, in-process but real in every part: the API over real HTTP, a
 * real BullMQ worker, real Redis, real execution threads.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { functionQueueName, parseAttemptRecords } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-marks-'));
// Each run appends one line to <markerDir>/<event.id>, so a test can count runs exactly.
const recordRun = `require('node:fs').appendFileSync(require('node:path').join(process.env.MARKER_DIR, String(event.id)), Date.now() + '\\n');`;
const functionsDir = makeFunctionsDir({
  echo: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (event) => event;' } },
  record: {
    config: { handler: 'index.handler', environment: { MARKER_DIR: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { ${recordRun} return { ok: true }; };` },
  },
  alwaysFails: {
    config: { handler: 'index.handler', circuitBreaker: false, environment: { MARKER_DIR: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { ${recordRun} const e = new Error('no luck'); e.name = 'FlakyError'; throw e; };` },
  },
  slowpoke: {
    config: { handler: 'index.handler', timeout: 0.5 },
    files: { 'index.mjs': 'export const handler = () => new Promise(() => { setInterval(() => {}, 1000); });' },
  },
  spinner: {
    config: { handler: 'index.handler', circuitBreaker: false, timeout: 0.2, environment: { MARKER_DIR: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { ${recordRun} for (;;) {} };` },
  },
  crasher: {
    config: { handler: 'index.handler', circuitBreaker: false, environment: { MARKER_DIR: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { ${recordRun} process.exit(7); };` },
  },
  context: {
    config: { handler: 'index.handler' },
    files: { 'index.js': 'exports.handler = async (event, context) => ({ clientContext: context.clientContext, requestId: context.awsRequestId });' },
  },
});

const prefix = uniquePrefix('spine');
const env = {
  INVOQ_FUNCTIONS_DIR: functionsDir,
  INVOQ_QUEUE_PREFIX: prefix,
  INVOQ_RETRY_BASE_DELAY_MS: '200',
  INVOQ_SYNC_PAYLOAD_LIMIT: '2000',
  INVOQ_ASYNC_PAYLOAD_LIMIT: '1000',
  INVOQ_API_KEYS: 'user-key',
  INVOQ_ADMIN_KEYS: 'admin-key',
};
let api: ApiService;
let worker: WorkerService;
let base: string;

beforeAll(async () => {
  const config = testConfig(env);
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
});

function invoke(fn: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return fetch(`${base}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    headers: { authorization: 'Bearer user-key', ...headers },
    body,
  });
}

const runsOf = (id: string): number[] => {
  const file = path.join(markerDir, id);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n').map(Number) : [];
};

describe('sync invoke (RequestResponse)', () => {
  it('answers the function’s result, byte for byte', async () => {
    const res = await invoke('echo', '{"hello": "world",  "n": [1,2]}');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-executed-version')).toBe('$LATEST');
    expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(await res.json()).toEqual({ hello: 'world', n: [1, 2] });
  });

  it('treats an empty body as {}', async () => {
    const res = await invoke('echo', '');
    expect(await res.json()).toEqual({});
  });

  it('answers a thrown error as 200 with X-Amz-Function-Error: Unhandled', async () => {
    const res = await invoke('alwaysFails', '{"id":"sync-throw"}');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await res.json()).toMatchObject({ errorType: 'FlakyError', errorMessage: 'no luck', trace: expect.any(Array) });
  });

  it('answers a timeout as Sandbox.Timedout', async () => {
    const res = await invoke('slowpoke', '{}');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    const requestId = res.headers.get('x-amzn-requestid');
    expect(await res.json()).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${requestId} Error: Task timed out after 0.50 seconds`,
      trace: [],
    });
  });

  it('passes X-Amz-Client-Context to the function, and the request id as awsRequestId', async () => {
    const clientContext = { custom: { tenant: 'acme' }, env: { locale: 'en' } };
    const res = await invoke('context', '{}', { 'x-amz-client-context': Buffer.from(JSON.stringify(clientContext)).toString('base64') });
    expect(await res.json()).toEqual({ clientContext, requestId: res.headers.get('x-amzn-requestid') });
    const bad = await invoke('context', '{}', { 'x-amz-client-context': Buffer.from('not json').toString('base64') });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
  });

  it('returns the log tail when asked', async () => {
    const res = await invoke('echo', '{}', { 'x-amz-log-type': 'Tail' });
    const tail = Buffer.from(res.headers.get('x-amz-log-result') ?? '', 'base64').toString();
    expect(tail).toMatch(/^START RequestId: \S+ Version: \$LATEST\n/);
    expect(tail).toMatch(/END RequestId: .*\nREPORT RequestId: .*\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB/);
  });
});

describe('async invoke (Event)', () => {
  it('answers 202 with an empty body and a request id, then the worker runs it', async () => {
    const res = await invoke('record', '{"id":"event-runs"}', { 'x-amz-invocation-type': 'Event' });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    const requestId = res.headers.get('x-amzn-requestid')!;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => runsOf('event-runs').length === 1, 10_000, 'the event to run');
    // The job id is the request id, and the job completed.
    const queue = new Queue(functionQueueName('record'), { connection: { url: testRedisUrl() }, prefix });
    try {
      const job = await waitFor(async () => {
        const found = await queue.getJob(requestId);
        return found?.finishedOn ? found : undefined;
      });
      expect(job.returnvalue).toEqual({ result: '{"ok":true}' });
    } finally {
      await queue.close();
    }
  });

  it('runs an always-failing event exactly 3 times with growing gaps, then dead-letters it', async () => {
    const res = await invoke('alwaysFails', '{"id":"to-dlq"}', { 'x-amz-invocation-type': 'Event' });
    expect(res.status).toBe(202);
    const requestId = res.headers.get('x-amzn-requestid')!;

    const dlq = await waitFor(
      async () => {
        const r = await fetch(`${base}/dlq?functionName=alwaysFails`, { headers: { 'x-api-key': 'admin-key' } });
        const body = (await r.json()) as { items: Array<Record<string, unknown>> };
        return body.items.find((item) => item.requestId === requestId);
      },
      15_000,
      'the event in the DLQ',
    );
    expect(dlq).toMatchObject({
      functionName: 'alwaysFails',
      payload: { id: 'to-dlq' },
      error: { errorType: 'FlakyError', errorMessage: 'no luck' },
      attempts: 3,
      reason: 'RetriesExhausted',
    });

    const runs = runsOf('to-dlq');
    expect(runs).toHaveLength(3);
    const [gap1, gap2] = [runs[1]! - runs[0]!, runs[2]! - runs[1]!];
    // Base 200 ms: ~150–200 ms, then ~300–400 ms (exponential, less up to 25% jitter).
    expect(gap1).toBeGreaterThanOrEqual(140);
    expect(gap2).toBeGreaterThan(gap1);

    const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/^invoq_dead_letter_total\{function="alwaysFails",reason="RetriesExhausted"\} [1-9]/m);
    expect(metrics).toMatch(/^invoq_retries_total\{function="alwaysFails"\} [2-9]/m);
    expect(metrics).toMatch(/^invoq_dlq_depth\{function="alwaysFails"\} [1-9]/m);

    // The attempt history travels with the job.
    const queue = new Queue(functionQueueName('alwaysFails'), { connection: { url: testRedisUrl() }, prefix });
    try {
      const records = parseAttemptRecords((await queue.getJob(requestId))?.stacktrace);
      expect(records.map((r) => r.attempt)).toEqual([1, 2, 3]);
      expect(records[2]?.deadLetterReason).toBe('RetriesExhausted');
    } finally {
      await queue.close();
    }
  });

  it.each([
    ['spinner', 'Sandbox.Timedout'],
    ['crasher', 'Runtime.ExitError'],
  ])('retries a %s attempt (%s) like any error, then dead-letters it', async (fn, errorType) => {
    const id = `retried-${fn}`;
    const res = await invoke(fn, JSON.stringify({ id }), { 'x-amz-invocation-type': 'Event' });
    const requestId = res.headers.get('x-amzn-requestid')!;
    const entry = await waitFor(
      async () => {
        const r = await fetch(`${base}/dlq?functionName=${fn}`, { headers: { 'x-api-key': 'admin-key' } });
        return ((await r.json()) as { items: Array<Record<string, unknown>> }).items.find((item) => item.requestId === requestId);
      },
      20_000,
      `${fn} in the DLQ`,
    );
    expect(entry).toMatchObject({ attempts: 3, reason: 'RetriesExhausted', error: { errorType } });
    expect(runsOf(id)).toHaveLength(3);
  });

  it('refuses a body that is not JSON before queueing it', async () => {
    const res = await invoke('record', '{"id":', { 'x-amz-invocation-type': 'Event' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
  });
});

describe('the contract’s errors', () => {
  it('DryRun answers 204', async () => {
    const res = await invoke('echo', '{}', { 'x-amz-invocation-type': 'DryRun' });
    expect(res.status).toBe(204);
    expect(res.headers.get('x-amzn-requestid')).toBeTruthy();
  });

  it('an unknown function is 404 ResourceNotFoundException', async () => {
    const res = await invoke('nope', '{}');
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(await res.json()).toEqual({ Type: 'User', Message: expect.stringContaining('Function not found: arn:aws:lambda:') });
  });

  it('a sync body that is not JSON is 400 InvalidRequestContentException', async () => {
    const res = await invoke('echo', 'not json');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    expect(((await res.json()) as { Message: string }).Message).toMatch(/Could not parse request body into json/);
  });

  it('bytes that are not UTF-8 are 400', async () => {
    const res = await invoke('echo', Buffer.from([0x22, 0x87, 0x22]));
    expect(res.status).toBe(400);
  });

  it.each([
    ['RequestResponse', 2001, /Request must be smaller than 2000 bytes/],
    ['Event', 1001, /1003 byte payload is too large for the Event invocation type \(limit 1000 bytes\)/],
  ])('%s over its limit is 413 RequestTooLargeException', async (type, size, message) => {
    const res = await invoke('echo', JSON.stringify('x'.repeat(size)), { 'x-amz-invocation-type': type });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-amzn-errortype')).toBe('RequestTooLargeException');
    expect(((await res.json()) as { Message: string }).Message).toMatch(message);
  });

  it('a bad invocation type is 400 InvalidParameterValueException', async () => {
    const res = await invoke('echo', '{}', { 'x-amz-invocation-type': 'Sometimes' });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
  });

  it('no key is 401, a wrong key 403, and the DLQ needs an admin key', async () => {
    const none = await fetch(`${base}/2015-03-31/functions/echo/invocations`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
    expect(none.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
    const wrong = await invoke('echo', '{}', { authorization: 'Bearer wrong' });
    expect(wrong.status).toBe(403);
    const userDlq = await fetch(`${base}/dlq`, { headers: { authorization: 'Bearer user-key' } });
    expect(userDlq.status).toBe(403);
  });

  it('health, readiness and metrics need no key', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const family of [
      'invoq_invocations_total',
      'invoq_errors_total',
      'invoq_duration_seconds',
      'invoq_async_events_received_total',
      'invoq_retries_total',
      'invoq_dead_letter_total',
      'invoq_dlq_depth',
    ]) {
      expect(metrics).toContain(`# TYPE ${family} `);
    }
    expect(metrics).toMatch(/^invoq_invocations_total\{function="echo",type="sync"\} [1-9]/m);
    expect(metrics).toMatch(/^invoq_async_events_received_total\{function="record"\} [1-9]/m);
  });
});
