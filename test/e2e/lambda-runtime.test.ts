/**
 * Lambda handler code runs unchanged: the older handler styles of AWS's own samples
 * (`context.succeed`, `context.fail`, `context.done`) sync and as events, a failure reaching the
 * DLQ; the variables Lambda's Node.js runtime sets; a trace id per invocation that an event keeps
 * across its retries and that is logged; the AWS SDK installed with a function; the time zone;
 * Lambda's reserved names refused at start.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { REPO_ROOT, freePort, makeFunctionsDir, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const TRACE_ID = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$/;
const recordDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-trace-'));

// Handlers as AWS's older samples and blueprints wrote them, copied in unchanged.
const functionsDir = makeFunctionsDir({
  helloWorld: {
    config: { handler: 'index.handler' },
    files: {
      'index.js': `console.log('Loading function');

exports.handler = function(event, context) {
    console.log('value1 =', event.key1);
    context.succeed(event.key1);  // Echo back the first key value
};
`,
    },
  },
  orderCheck: {
    config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 0 } },
    files: {
      'index.js': `exports.handler = function(event, context) {
    setTimeout(function() {
        if (!event.orderId) {
            context.fail(new Error('Missing orderId'));
        } else {
            context.done(null, { orderId: event.orderId, checked: true });
        }
    }, 20);
};
`,
    },
  },
  envReport: {
    config: { handler: 'index.handler', memorySize: 256 },
    files: {
      'index.js': `exports.handler = async (event, context) => {
  const names = ['AWS_EXECUTION_ENV', 'AWS_LAMBDA_FUNCTION_NAME', 'AWS_LAMBDA_FUNCTION_VERSION', 'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
    'AWS_LAMBDA_LOG_GROUP_NAME', 'AWS_LAMBDA_LOG_STREAM_NAME', 'AWS_LAMBDA_INITIALIZATION_TYPE', 'AWS_REGION', 'AWS_DEFAULT_REGION',
    'LAMBDA_TASK_ROOT', 'LAMBDA_RUNTIME_DIR', '_HANDLER', 'TZ', 'NODE_PATH', '_X_AMZN_TRACE_ID', 'INVOQ_API_KEYS', 'REDIS_URL'];
  const env = Object.fromEntries(names.map((n) => [n, process.env[n] ?? null]));
  return { env, logStreamName: context.logStreamName, arn: context.invokedFunctionArn, utcOffset: new Date().getTimezoneOffset() };
};
`,
    },
  },
  // Fails its first two attempts, recording the trace id each attempt saw.
  traced: {
    config: { handler: 'index.handler', circuitBreaker: false, environment: { RECORD_DIR: recordDir } },
    files: {
      'index.js': `const fs = require('node:fs');
exports.handler = async (event, context) => {
  const file = require('node:path').join(process.env.RECORD_DIR, context.awsRequestId);
  fs.appendFileSync(file, process.env._X_AMZN_TRACE_ID + '\\n');
  const attempt = fs.readFileSync(file, 'utf8').trim().split('\\n').length;
  if (attempt < 3) throw new Error('attempt ' + attempt + ' failed');
  return { attempt };
};
`,
    },
  },
});

// A function with the AWS SDK installed beside it (here a link to the repository's copy): it
// calls invoq's own Invoke through the SDK, which takes its region from AWS_REGION.
const sdkFunctionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-sdk-fn-'));
fs.mkdirSync(path.join(sdkFunctionsDir, 'viaSdk', 'node_modules', '@aws-sdk'), { recursive: true });
fs.symlinkSync(
  path.join(REPO_ROOT, 'node_modules', '@aws-sdk', 'client-lambda'),
  path.join(sdkFunctionsDir, 'viaSdk', 'node_modules', '@aws-sdk', 'client-lambda'),
);
fs.writeFileSync(
  path.join(sdkFunctionsDir, 'viaSdk', 'function.json'),
  JSON.stringify({ handler: 'index.handler', timeout: 10, environment: { INVOQ_ENDPOINT: 'set below' } }),
);
fs.writeFileSync(
  path.join(sdkFunctionsDir, 'viaSdk', 'index.mjs'),
  `import { LambdaClient, InvokeCommand } from '@aws-sdk/client-lambda';
const lambda = new LambdaClient({ endpoint: process.env.INVOQ_ENDPOINT, credentials: { accessKeyId: 'fn', secretAccessKey: 'fn' } });
export const handler = async (event) => {
  const out = await lambda.send(new InvokeCommand({ FunctionName: 'helloWorld', Payload: JSON.stringify({ key1: event.say }) }));
  return { region: await lambda.config.region(), answer: JSON.parse(Buffer.from(out.Payload).toString()) };
};
`,
);

const logLines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
    done();
  },
});

let api: ApiService;
let worker: WorkerService;
let base: string;
beforeAll(async () => {
  const config = testConfig({
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: uniquePrefix('runtime'),
    INVOQ_RETRY_BASE_DELAY_MS: '0',
    INVOQ_REGION: 'eu-west-1',
  });
  [api, worker] = await Promise.all([startApi(config, pino({ level: 'info' }, sink)), startWorker(config, pino({ level: 'info' }, sink))]);
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
});

const invoke = (fn: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers, body: JSON.stringify(body) });
const status = async (id: string) => (await (await fetch(`${base}/invocations/${id}?wait=10`)).json()) as Record<string, any>;

describe('handlers of the context.succeed / fail / done style', () => {
  it('answers context.succeed synchronously, with the log line the module printed at load', async () => {
    const res = await invoke('helloWorld', { key1: 'value1', key2: 'value2' }, { 'X-Amz-Log-Type': 'Tail' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(await res.json()).toBe('value1');
    const tail = Buffer.from(res.headers.get('x-amz-log-result')!, 'base64').toString();
    expect(tail).toMatch(/INFO\tLoading function\n/);
    expect(tail).toMatch(/INFO\tvalue1 = value1\n/);
  });

  it('answers a later context.fail as a function error, and context.done as the result', async () => {
    const failed = await invoke('orderCheck', {});
    expect(failed.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await failed.json()).toMatchObject({ errorType: 'Error', errorMessage: 'Missing orderId' });
    expect(await (await invoke('orderCheck', { orderId: 'A-1' })).json()).toEqual({ orderId: 'A-1', checked: true });
  });

  it('runs them as events: context.done succeeds, context.fail goes to the DLQ', async () => {
    const ok = await invoke('orderCheck', { orderId: 'B-2' }, { 'X-Amz-Invocation-Type': 'Event' });
    const bad = await invoke('orderCheck', { note: 'no id' }, { 'X-Amz-Invocation-Type': 'Event' });
    expect([ok.status, bad.status]).toEqual([202, 202]);
    expect(await status(ok.headers.get('x-amzn-requestid')!)).toMatchObject({ status: 'succeeded', result: { orderId: 'B-2', checked: true } });
    const badId = bad.headers.get('x-amzn-requestid')!;
    expect(await status(badId)).toMatchObject({ status: 'dead-lettered', attempts: 1 });
    const entry = (await (await fetch(`${base}/dlq/${badId}`)).json()) as Record<string, unknown>;
    expect(entry).toMatchObject({
      functionName: 'orderCheck',
      reason: 'RetriesExhausted',
      error: { errorType: 'Error', errorMessage: 'Missing orderId' },
      payload: { note: 'no id' },
    });
  });
});

describe('Lambda’s environment', () => {
  it('sets every variable Lambda’s Node.js runtime sets, with Lambda’s values, and none of the service’s', async () => {
    const res = await invoke('envReport', {});
    const { env, logStreamName, arn } = (await res.json()) as { env: Record<string, string | null>; logStreamName: string; arn: string };
    const fnDir = path.join(functionsDir, 'envReport');
    expect(env).toEqual({
      AWS_EXECUTION_ENV: `AWS_Lambda_nodejs${process.versions.node.split('.')[0]}.x`,
      AWS_LAMBDA_FUNCTION_NAME: 'envReport',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/envReport',
      AWS_LAMBDA_LOG_STREAM_NAME: expect.stringMatching(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/),
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      LAMBDA_TASK_ROOT: fnDir,
      LAMBDA_RUNTIME_DIR: expect.any(String),
      _HANDLER: 'index.handler',
      TZ: ':UTC',
      NODE_PATH: fnDir,
      _X_AMZN_TRACE_ID: expect.stringMatching(TRACE_ID),
      INVOQ_API_KEYS: null,
      REDIS_URL: null,
    });
    expect(fs.existsSync(path.join(env.LAMBDA_RUNTIME_DIR!, 'environment-thread.js'))).toBe(true);
    expect(logStreamName).toBe(env.AWS_LAMBDA_LOG_STREAM_NAME);
    expect(arn).toBe('arn:aws:lambda:eu-west-1:000000000000:function:envReport');
  });

  it('gives each invocation its own trace id, answers it, and continues a caller’s X-Amzn-Trace-Id', async () => {
    const traceOf = async (headers: Record<string, string> = {}) => {
      const res = await invoke('envReport', {}, headers);
      const seen = ((await res.json()) as { env: Record<string, string> }).env._X_AMZN_TRACE_ID!;
      expect(res.headers.get('x-amzn-trace-id')).toBe(seen);
      return seen;
    };
    const [first, second] = [await traceOf(), await traceOf()];
    expect(first).toMatch(TRACE_ID);
    expect(second).toMatch(TRACE_ID);
    expect(first).not.toBe(second);
    const continued = await traceOf({ 'X-Amzn-Trace-Id': 'Root=1-67891233-abcdef012345678912345678;Sampled=1' });
    expect(continued).toMatch(/^Root=1-67891233-abcdef012345678912345678;Parent=[0-9a-f]{16};Sampled=1$/);
  });

  it('keeps an event’s trace id across its retries, and logs it with every attempt', async () => {
    const [a, b] = await Promise.all([invoke('traced', {}, { 'X-Amz-Invocation-Type': 'Event' }), invoke('traced', {}, { 'X-Amz-Invocation-Type': 'Event' })]);
    const ids = [a.headers.get('x-amzn-requestid')!, b.headers.get('x-amzn-requestid')!];
    for (const id of ids) expect(await status(id)).toMatchObject({ status: 'succeeded', attempts: 3, result: { attempt: 3 } });
    const traces = ids.map((id) => fs.readFileSync(path.join(recordDir, id), 'utf8').trim().split('\n'));
    for (const seen of traces) {
      expect(seen).toHaveLength(3);
      expect(seen[0]).toMatch(TRACE_ID);
      expect(new Set(seen).size).toBe(1);
    }
    expect(traces[0]![0]).not.toBe(traces[1]![0]);
    const logged = await waitFor(
      () => {
        const attempts = logLines.filter((l) => l.msg === 'invocation' && l.requestId === ids[0]);
        return attempts.length === 3 && attempts;
      },
      5000,
      'three attempt lines',
    );
    expect(logged.map((l) => l.traceId)).toEqual([traces[0]![0], traces[0]![0], traces[0]![0]]);
  });
});

describe('the AWS SDK, installed with the function', () => {
  let sdkApi: ApiService;
  beforeAll(async () => {
    // The function calls the API it runs in: tell it where, through its own environment.
    const file = path.join(sdkFunctionsDir, 'viaSdk', 'function.json');
    const config = JSON.parse(fs.readFileSync(file, 'utf8'));
    config.environment.INVOQ_ENDPOINT = base;
    fs.writeFileSync(file, JSON.stringify(config));
    sdkApi = await startApi(
      testConfig({ INVOQ_FUNCTIONS_DIR: sdkFunctionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('sdkfn'), INVOQ_REGION: 'ap-south-1' }),
      pino({ level: 'silent' }),
    );
  });
  afterAll(async () => {
    await sdkApi?.close();
  });

  it('imports it from the function’s own node_modules and takes AWS_REGION for its region', async () => {
    const res = await fetch(`http://127.0.0.1:${sdkApi.port}/2015-03-31/functions/viaSdk/invocations`, { method: 'POST', body: '{"say":"hi"}' });
    const body = await res.json();
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(body).toEqual({ region: 'ap-south-1', answer: 'hi' });
  });
});

describe('the API as a process', () => {
  const apiEntry = path.join(REPO_ROOT, 'apps/api/dist/main.js');
  const baseEnv = () => ({ PATH: process.env.PATH, REDIS_URL: testRedisUrl(), INVOQ_QUEUE_PREFIX: uniquePrefix('tz'), LOG_LEVEL: 'silent' });

  it('runs functions in UTC, whatever the machine’s time zone', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [apiEntry], {
      env: { ...baseEnv(), PORT: String(port), INVOQ_FUNCTIONS_DIR: functionsDir, TZ: 'Pacific/Auckland' },
      stdio: 'ignore',
    });
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok, 15_000, 'the API to start');
      const res = await fetch(`http://127.0.0.1:${port}/2015-03-31/functions/envReport/invocations`, { method: 'POST', body: '{}' });
      expect(((await res.json()) as { utcOffset: number }).utcOffset).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a reserved name in a function’s environment at start, in one line', () => {
    const dir = makeFunctionsDir({
      sneaky: { config: { handler: 'index.handler', environment: { AWS_REGION: 'mars-north-1' } }, files: { 'index.js': 'exports.handler = async () => 1;' } },
    });
    const result = spawnSync(process.execPath, [apiEntry], { env: { ...baseEnv(), PORT: '0', INVOQ_FUNCTIONS_DIR: dir }, encoding: 'utf8', timeout: 15_000 });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/sneaky\/function\.json: field "environment\.AWS_REGION" is reserved/);
  });
});
