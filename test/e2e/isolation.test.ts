/**
 * Isolation as it is, on the real tiers run as processes (`npm run api` / `npm run worker`): a
 * function that signals its own process or exits ends only its execution environment, and with
 * secrets given as files (`<SECRET>_FILE`) neither a thread's environment nor the process's
 * `/proc/self/environ` holds one. In processes of their own, since on code without the guard a
 * function's SIGTERM stops the process that runs it.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, makeFunctionsDir, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';
import { spawnTier, stopProcess } from '../support/processes';

const API_KEY = 'api-key-from-a-file-7f3a';
const ADMIN_KEY = 'admin-key-from-a-file-91c2';
const AWS_SECRET = 'aws-secret-from-a-file-55d0';
const DESTINATION_SECRET = 'destination-secret-from-a-file-c4e8';
const secretsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-secret-files-'));
const secretFile = (name: string, value: string): string => {
  const file = path.join(secretsDir, name);
  fs.writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return file;
};

const noRetries = { maximumRetryAttempts: 0 };
const functionsDir = makeFunctionsDir({
  selfSignal: {
    config: { handler: 'index.handler', circuitBreaker: false, async: noRetries },
    files: {
      'index.js': `exports.handler = async (event) => {
  // A function that would rather not be ended: the runtime took the real exit before it loaded.
  if (event.replaceExit) process.exit = () => undefined;
  process.kill(process.pid, event.signal);
  return 'still running';
};`,
    },
  },
  selfExit: {
    config: { handler: 'index.handler', circuitBreaker: false, async: noRetries },
    files: { 'index.js': `exports.handler = async () => { process.exit(3); };` },
  },
  environ: {
    config: { handler: 'index.handler', environment: { MINE: 'visible' } },
    files: {
      'index.js': `exports.handler = async () => ({
  processEnviron: require('node:fs').readFileSync('/proc/self/environ', 'utf8').split('\\0').filter(Boolean),
  threadEnv: process.env,
});`,
    },
  },
  echo: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (event) => event;' } },
});

let api: ChildProcess;
let worker: ChildProcess;
let base: string;
let workerBase: string;
const headers = { 'x-api-key': API_KEY };

beforeAll(async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  const env = {
    REDIS_URL_FILE: secretFile('redis-url', testRedisUrl()),
    INVOQ_API_KEYS_FILE: secretFile('api-keys', API_KEY),
    INVOQ_ADMIN_KEYS_FILE: secretFile('admin-keys', ADMIN_KEY),
    INVOQ_AWS_CREDENTIALS_FILE: secretFile('aws-credentials', `AKIDFILE:${AWS_SECRET}`),
    INVOQ_DESTINATION_SECRET_FILE: secretFile('destination-secret', DESTINATION_SECRET),
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: uniquePrefix('isolation'),
    INVOQ_RETRY_BASE_DELAY_MS: '0',
    PORT: String(port),
    INVOQ_METRICS_PORT: String(metricsPort),
  };
  [api, worker] = [spawnTier('api', env), spawnTier('worker', env)];
  base = `http://127.0.0.1:${port}`;
  workerBase = `http://127.0.0.1:${metricsPort}`;
  const up = (url: string) =>
    fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
  await waitFor(async () => (await up(base)) && (await up(workerBase)), 20_000, 'both tiers to answer /healthz');
});

afterAll(async () => {
  await Promise.all([api && stopProcess(api), worker && stopProcess(worker)]);
  fs.rmSync(secretsDir, { recursive: true, force: true });
});

const invoke = (fn: string, body: unknown, extra: Record<string, string> = {}) =>
  fetch(`${base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body) });

/** Both tiers still run, and each still serves. */
async function expectBothTiersUp(): Promise<void> {
  expect(api.exitCode).toBeNull();
  expect(api.signalCode).toBeNull();
  expect(worker.exitCode).toBeNull();
  expect(worker.signalCode).toBeNull();
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  expect((await fetch(`${workerBase}/healthz`)).status).toBe(200);
  const next = await invoke('echo', { next: 'call' });
  expect(await next.json()).toEqual({ next: 'call' });
}

describe('secrets given as files', () => {
  it('are the keys the API accepts', async () => {
    expect((await fetch(`${base}/2015-03-31/functions`)).status).toBe(401);
    expect((await fetch(`${base}/2015-03-31/functions`, { headers: { 'x-api-key': 'not-a-key' } })).status).toBe(403);
    expect((await fetch(`${base}/2015-03-31/functions`, { headers })).status).toBe(200);
    expect((await fetch(`${base}/dlq`, { headers })).status).toBe(403);
    expect((await fetch(`${base}/dlq`, { headers: { 'x-api-key': ADMIN_KEY } })).status).toBe(200);
  });

  it('are in neither a thread’s environment nor the process’s /proc/self/environ', async () => {
    const answer = await invoke('environ', {});
    expect(answer.status).toBe(200);
    const { processEnviron, threadEnv } = (await answer.json()) as { processEnviron: string[]; threadEnv: Record<string, string> };
    expect(threadEnv.MINE).toBe('visible');
    const everything = JSON.stringify({ processEnviron, threadEnv });
    for (const secret of [API_KEY, ADMIN_KEY, AWS_SECRET, DESTINATION_SECRET, testRedisUrl()]) expect(everything).not.toContain(secret);
    // What is there: where the files are, which a function running as the service's user can
    // still read (see docs/functions.md).
    expect(processEnviron).toContain(`INVOQ_API_KEYS_FILE=${path.join(secretsDir, 'api-keys')}`);
    expect(Object.keys(threadEnv).filter((name) => name.startsWith('INVOQ_') || name.startsWith('REDIS_'))).toEqual([]);
  });
});

describe('a function that signals its own process or exits', () => {
  it.each([
    ['SIGTERM', 'signal: terminated'],
    ['SIGKILL', 'signal: killed'],
    ['SIGINT', 'signal: interrupt'],
  ])('process.kill(process.pid, %s) ends only its environment, with Runtime.ExitError', async (signal, detail) => {
    const answer = await invoke('selfSignal', { signal });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('x-amz-function-error')).toBe('Unhandled');
    const body = (await answer.json()) as { errorType: string; errorMessage: string };
    expect(body).toMatchObject({
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringMatching(new RegExp(`^RequestId: \\S+ Error: Runtime exited with error: ${detail}$`)),
    });
    await expectBothTiersUp();
  });

  it('ends its environment even when the function replaced process.exit first', async () => {
    const answer = await invoke('selfSignal', { signal: 'SIGTERM', replaceExit: true });
    expect(await answer.json()).toMatchObject({ errorType: 'Runtime.ExitError', errorMessage: expect.stringMatching(/signal: terminated$/) });
    await expectBothTiersUp();
  });

  it('process.exit(3) ends only its environment, with Runtime.ExitError', async () => {
    const answer = await invoke('selfExit', {});
    expect(await answer.json()).toMatchObject({
      errorType: 'Runtime.ExitError',
      errorMessage: expect.stringMatching(/Runtime exited with error: exit status 3$/),
    });
    await expectBothTiersUp();
  });

  it.each([
    ['process.kill(process.pid, SIGTERM)', 'selfSignal', { signal: 'SIGTERM' }, /signal: terminated$/],
    ['process.exit(3)', 'selfExit', {}, /exit status 3$/],
  ])('%s in an event fails that event in the worker, which runs on', async (_what, fn, payload, message) => {
    const accepted = await invoke(fn, payload, { 'X-Amz-Invocation-Type': 'Event' });
    expect(accepted.status).toBe(202);
    const id = accepted.headers.get('x-amzn-requestid')!;
    const status = await waitFor(
      async () => {
        const s = (await (await fetch(`${base}/invocations/${id}?wait=10`, { headers })).json()) as {
          status: string;
          history: Array<{ outcome: string; error?: { errorType: string; errorMessage: string } }>;
        };
        return s.status === 'dead-lettered' ? s : undefined;
      },
      20_000,
      'the event to be dead-lettered',
    );
    expect(status.history).toHaveLength(1);
    expect(status.history[0]!.error).toMatchObject({ errorType: 'Runtime.ExitError', errorMessage: expect.stringMatching(message) });
    await expectBothTiersUp();
  });
});
