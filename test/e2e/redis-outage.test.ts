/**
 * Redis goes away (killed, or frozen so that connections stay up and nothing answers): sync
 * invokes of unlimited functions keep working, Event answers 503 with Retry-After within 2 s (no
 * hanging request, nothing buffered), a limited function's sync call is 503, /readyz says 503,
 * the worker waits; when Redis returns, everything heals by itself and nothing accepted is lost.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, waitFor } from '../support/harness';
import { OwnRedis } from '../support/processes';

const echo = 'exports.handler = async (event) => event;';
const functionsDir = makeFunctionsDir({
  echo: { config: { handler: 'index.handler' }, files: { 'index.js': echo } },
  limited: { config: { handler: 'index.handler', reservedConcurrency: 1 }, files: { 'index.js': echo } },
  slowEcho: {
    config: { handler: 'index.handler' },
    files: { 'index.js': 'exports.handler = async (event) => { await new Promise((r) => setTimeout(r, 300)); return event; };' },
  },
});

let redis: OwnRedis;
let api: ApiService;
let worker: WorkerService;
let base: string;

beforeAll(async () => {
  redis = await OwnRedis.create(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-outage-')));
  await redis.start();
  const config = testConfig({ REDIS_URL: redis.url, INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: 'outage' });
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  redis?.thaw();
  // The worker's close once hung here for good: see close-during-outage.test.ts.
  await Promise.all([api?.close(), worker?.close()]);
  await redis?.kill();
});

const invoke = (fn: string, type: string) =>
  fetch(`${base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': type }, body: '{"during":"outage"}' });
const statusOf = async (id: string) => ((await (await fetch(`${base}/invocations/${id}?wait=5`)).json()) as { status: string }).status;

/** What every outage must look like from outside, however Redis went away. */
async function expectOutageAnswers(): Promise<void> {
  // Sync invokes of a function without a concurrency limit need no Redis.
  const sync = await invoke('echo', 'RequestResponse');
  expect(sync.status).toBe(200);
  expect(await sync.json()).toEqual({ during: 'outage' });

  for (const [fn, type] of [
    ['echo', 'Event'],
    ['limited', 'RequestResponse'],
  ] as const) {
    const started = performance.now();
    const refused = await invoke(fn, type);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('x-amzn-errortype')).toBe('ServiceException');
    expect(refused.headers.get('retry-after')).toBe('1');
  }
  expect((await fetch(`${base}/readyz`)).status).toBe(503);
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`)).status).toBe(503);
  expect((await fetch(`${base}/metrics`)).status).toBe(200);
}

async function expectHealed(): Promise<void> {
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 15_000, 'the API to see Redis again');
  const accepted = await invoke('echo', 'Event');
  expect(accepted.status).toBe(202);
  expect(await statusOf(accepted.headers.get('x-amzn-requestid')!)).toBe('succeeded');
  expect((await invoke('limited', 'RequestResponse')).status).toBe(200);
}

it('keeps sync working and refuses events quickly while Redis is killed, then heals, losing nothing', async () => {
  // Accepted just before the crash (the AOF has it): it may be running when Redis dies.
  const before = await invoke('slowEcho', 'Event');
  expect(before.status).toBe(202);
  await redis.kill();
  await expectOutageAnswers();
  await redis.start();
  await expectHealed();
  // Its run may have finished while Redis was away; a lapsed lock then runs it again.
  await waitFor(
    async () => (await statusOf(before.headers.get('x-amzn-requestid')!)) === 'succeeded',
    45_000,
    'the event accepted before the crash to succeed',
  );
}, 90_000);

/** Sends `count` calls at once; each answer's status and how long it took. */
async function concurrently(count: number, fn: string, type: string): Promise<Array<{ status: number; ms: number }>> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const started = performance.now();
      const res = await invoke(fn, type);
      await res.arrayBuffer();
      return { status: res.status, ms: performance.now() - started };
    }),
  );
}

it('answers within 2 s while Redis is frozen (connected, answering nothing), then heals', async () => {
  redis.freeze();
  try {
    await expectOutageAnswers();
    // The bound holds for each of many requests at once, not only for the first: commands
    // issued while an earlier pipeline waits on the frozen Redis get no more time than it did.
    for (const [fn, type] of [
      ['echo', 'Event'],
      ['limited', 'RequestResponse'],
    ] as const) {
      const answers = await concurrently(20, fn, type);
      expect(answers.map((a) => a.status)).toEqual(Array(20).fill(503));
      expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(2000);
    }
  } finally {
    redis.thaw();
  }
  await expectHealed();
}, 60_000);
