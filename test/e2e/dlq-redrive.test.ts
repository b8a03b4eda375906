/**
 * A bulk redrive of a function that still fails, with a worker running: it answers at once with
 * the entries it took (a snapshot of the DLQ), redrives each of them exactly once in the
 * background, finishes, and keeps going through a client that hangs up, an API restarted
 * part-way and an API killed part-way. Its pace leaves room for live events.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { closeRedis, createRedisConnection } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { freePort, makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';
import { spawnTier, stopProcess } from '../support/processes';

const MAX_WAITING = 4;
const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-redrive-'));
// Records each run in a file per event, waits while `<function>.slow` holds a number of ms, and
// fails, unless the event is a live one.
const handler = `exports.handler = async (event, context) => {
  if (event.live) return 'live';
  const fs = require('node:fs'), path = require('node:path'), dir = process.env.MARKER_DIR;
  fs.appendFileSync(path.join(dir, event.id), 'x');
  const slow = path.join(dir, context.functionName + '.slow');
  if (fs.existsSync(slow)) await new Promise((r) => setTimeout(r, Number(fs.readFileSync(slow, 'utf8'))));
  throw new Error('still broken');
};`;
const failing = (async: Record<string, unknown> = {}) => ({
  config: { handler: 'index.handler', timeout: 5, circuitBreaker: false, environment: { MARKER_DIR: markerDir }, async },
  files: { 'index.js': handler },
});
const functionsDir = makeFunctionsDir({
  thrice: failing(),
  dropped: failing(),
  restarted: failing({ maximumRetryAttempts: 0 }),
  crashed: failing({ maximumRetryAttempts: 0 }),
  bulk: failing({ maximumRetryAttempts: 0 }),
  other: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => "other";' } },
});
const runs = (id: string) => (fs.existsSync(path.join(markerDir, id)) ? fs.readFileSync(path.join(markerDir, id), 'utf8').length : 0);
const slowDown = (fn: string, ms: number) => fs.writeFileSync(path.join(markerDir, `${fn}.slow`), String(ms));

const prefix = uniquePrefix('redrive');
const env = {
  INVOQ_FUNCTIONS_DIR: functionsDir,
  INVOQ_QUEUE_PREFIX: prefix,
  INVOQ_RETRY_BASE_DELAY_MS: '20',
  INVOQ_WORKER_CONCURRENCY: '4',
  INVOQ_REDRIVE_MAX_WAITING: String(MAX_WAITING),
};
const config = testConfig(env);
const redis = createRedisConnection(testRedisUrl());
let api: ApiService;
let worker: WorkerService;
let base: string;
const useApi = (a: ApiService) => {
  api = a;
  base = `http://127.0.0.1:${a.port}`;
};

beforeAll(async () => {
  [worker] = await Promise.all([startWorker(config, silentLogger()), startApi(config, silentLogger()).then(useApi)]);
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
  await closeRedis(redis);
});

const failedCount = (fn: string) => redis.zcard(`${prefix}:{${fn}}:failed`);

/** Fires `n` events at `fn` and waits until all are in its DLQ. */
async function fillDlq(fn: string, n: number, at = base): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${fn}-${i}`);
  for (let i = 0; i < n; i += 25) {
    await Promise.all(
      ids.slice(i, i + 25).map(async (id) => {
        const res = await fetch(`${at}/2015-03-31/functions/${fn}/invocations`, {
          method: 'POST',
          headers: { 'x-amz-invocation-type': 'Event' },
          body: JSON.stringify({ id }),
        });
        expect(res.status).toBe(202);
      }),
    );
  }
  await waitFor(async () => (await failedCount(fn)) === n, 60_000, `${n} entries in the DLQ of ${fn}`);
  return ids;
}

async function startRedrive(fn: string, at = base): Promise<{ status: number; body: any }> {
  // Today's redrive answered only once the DLQ stayed empty: with a worker refilling it, never.
  const res = await fetch(`${at}/dlq/redrive`, { method: 'POST', body: JSON.stringify({ functionName: fn }), signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json() };
}

const progress = async (redriveId: string, at = base): Promise<any> => (await fetch(`${at}/dlq/redrives/${redriveId}`)).json();
const finished = (redriveId: string, timeoutMs = 60_000) =>
  waitFor(
    async () => {
      const p = await progress(redriveId);
      return p.state === 'finished' && p;
    },
    timeoutMs,
    `redrive ${redriveId} to finish`,
  );

/** Every entry back in the DLQ (the function still fails), taken by this redrive exactly once. */
async function expectRedrivenOnce(fn: string, ids: string[], redriveId: string, runsEach: number): Promise<void> {
  await waitFor(
    async () =>
      (await failedCount(fn)) === ids.length &&
      (await redis.llen(`${prefix}:{${fn}}:wait`)) === 0 &&
      (await redis.zcard(`${prefix}:{${fn}}:delayed`)) === 0 &&
      (await redis.llen(`${prefix}:{${fn}}:active`)) === 0,
    60_000,
    `every entry of ${fn} back in its DLQ`,
  );
  const entries = await Promise.all(
    (await redis.zrange(`${prefix}:{${fn}}:failed`, 0, -1)).map(async (requestId) => (await fetch(`${base}/dlq/${requestId}`)).json() as Promise<any>),
  );
  const byEvent = new Map(entries.map((e) => [e.payload.id as string, e]));
  for (const id of ids) {
    const entry = byEvent.get(id);
    expect(entry?.redrives?.map((r: any) => r.redriveId)).toEqual([redriveId]);
    expect(runs(id)).toBe(runsEach);
  }
}

it('answers at once with the entries taken, redrives each exactly once (3 attempts each), and finishes', async () => {
  const ids = await fillDlq('thrice', 100);
  expect(ids.every((id) => runs(id) === 3)).toBe(true);

  const started = Date.now();
  const { status, body } = await startRedrive('thrice');
  const answeredMs = Date.now() - started;
  expect(status).toBe(202);
  expect(body).toMatchObject({ redriven: 100, redrives: [{ functionName: 'thrice', total: 100, taken: 100 }] });
  const { redriveId, statusUrl } = body.redrives[0];
  expect(statusUrl).toBe(`/dlq/redrives/${redriveId}`);

  // A second call while it runs takes nothing and points at the running one.
  const again = await startRedrive('thrice');
  if (again.body.redrives.length > 0) expect(again.body).toMatchObject({ redriven: 0, redrives: [{ redriveId, taken: 0 }] });
  else expect(again.body).toEqual({ redriven: 0, redrives: [] });

  const done = await finished(redriveId);
  expect(done).toMatchObject({ total: 100, done: 100, remaining: 0, skipped: 0 });
  await expectRedrivenOnce('thrice', ids, redriveId, 6);
  const listed: any = await (await fetch(`${base}/dlq/redrives?functionName=thrice`)).json();
  expect(listed.items.map((p: any) => p.redriveId)).toContain(redriveId);
  console.log(
    `redrive: 100 entries of a failing function: answered in ${answeredMs} ms, finished ${Date.parse(done.finishedAt) - Date.parse(done.createdAt)} ms after it started`,
  );
}, 120_000);

it('goes on to the end when the client hangs up before the answer', async () => {
  const ids = await fillDlq('dropped', 50);
  const body = JSON.stringify({ functionName: 'dropped' });
  // The whole request is sent, then the connection is destroyed without reading a byte.
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(api.port, '127.0.0.1', () => {
      socket.write(`POST /dlq/redrive HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
  const redrive = await waitFor(
    async () => {
      const res = await fetch(`${base}/dlq/redrives?functionName=dropped`);
      return res.status === 200 && ((await res.json()) as any).items[0];
    },
    10_000,
    'the redrive the hung-up request started',
  );
  const done = await finished(redrive.redriveId);
  expect(done).toMatchObject({ total: 50, done: 50, skipped: 0 });
  await expectRedrivenOnce('dropped', ids, redrive.redriveId, 6);
}, 120_000);

it('an API restarted part-way hands over: the new one finishes it, no entry twice, none skipped', async () => {
  const ids = await fillDlq('restarted', 120);
  slowDown('restarted', 150);
  const { body } = await startRedrive('restarted');
  const { redriveId } = body.redrives[0];
  await waitFor(async () => (await progress(redriveId)).done >= 12, 30_000, 'the redrive to be under way');
  const before = await progress(redriveId);
  await api.close();
  expect(before.state).toBe('running');
  expect(before.remaining).toBeGreaterThan(0);
  useApi(await startApi(config, silentLogger()));

  const done = await finished(redriveId);
  expect(done).toMatchObject({ total: 120, done: 120, skipped: 0 });
  await expectRedrivenOnce('restarted', ids, redriveId, 2);
}, 120_000);

it('an API killed part-way (SIGKILL): another takes its redrive over once its lease lapses', async () => {
  // The in-process API steps aside, so the spawned one is the only runner until it dies.
  await api.close();
  const port = await freePort();
  let child: ChildProcess | undefined = spawnTier('api', { ...env, REDIS_URL: testRedisUrl(), PORT: String(port) });
  try {
    const childBase = `http://127.0.0.1:${port}`;
    await waitFor(
      () =>
        fetch(`${childBase}/readyz`).then(
          (r) => r.ok,
          () => false,
        ),
      20_000,
      'the spawned API',
    );
    const ids = await fillDlq('crashed', 80, childBase);
    slowDown('crashed', 150);
    const { body } = await startRedrive('crashed', childBase);
    const { redriveId } = body.redrives[0];
    await waitFor(async () => (await progress(redriveId, childBase)).done >= 10, 30_000, 'the redrive to be under way');
    await stopProcess(child, 'SIGKILL');
    child = undefined;
    useApi(await startApi(config, silentLogger()));
    const stalled = await progress(redriveId);
    expect(stalled.state).toBe('running');
    expect(stalled.remaining).toBeGreaterThan(0);

    const done = await finished(redriveId, 90_000);
    expect(done).toMatchObject({ total: 80, done: 80, skipped: 0 });
    await expectRedrivenOnce('crashed', ids, redriveId, 2);
  } finally {
    if (child) await stopProcess(child, 'SIGKILL');
  }
}, 150_000);

it('a large redrive leaves room for live events of the same and of another function', async () => {
  await fillDlq('bulk', 1000);
  slowDown('bulk', 20);
  const { body } = await startRedrive('bulk');
  const { redriveId } = body.redrives[0];
  let mostWaiting = 0;
  await waitFor(
    async () => {
      mostWaiting = Math.max(mostWaiting, await redis.llen(`${prefix}:{bulk}:wait`));
      return (await progress(redriveId)).done >= 8;
    },
    30_000,
    'the redrive to be under way',
  );

  const fire = async (fn: string) => {
    const res = await fetch(`${base}/2015-03-31/functions/${fn}/invocations`, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event' },
      body: JSON.stringify({ live: true }),
    });
    return res.headers.get('x-amzn-requestid')!;
  };
  const live = await Promise.all(['bulk', 'other'].map(fire));
  for (const id of live) {
    const status: any = await waitFor(
      async () => {
        mostWaiting = Math.max(mostWaiting, await redis.llen(`${prefix}:{bulk}:wait`));
        const s: any = await (await fetch(`${base}/invocations/${id}`)).json();
        return s.status === 'succeeded' && s;
      },
      30_000,
      'the live event to run',
    );
    expect(status.result).toBe(status.functionName === 'bulk' ? 'live' : 'other');
  }
  // Both ran while most of the redrive was still to do, and it never queued more than its bound
  // (plus the one live event) ahead of them.
  const now = await progress(redriveId);
  expect(now.state).toBe('running');
  expect(now.remaining).toBeGreaterThan(500);
  expect(mostWaiting).toBeLessThanOrEqual(MAX_WAITING + 1);
}, 120_000);
