/**
 * Redis at `maxmemory` (noeviction) with a backlog: the API refuses `Event` with 429 before Redis
 * is full, while sync invokes keep working; a worker facing a full Redis backs off instead of
 * spinning, logs a few lines (not one per refusal), counts the refusals, and says 503 on /readyz;
 * once memory is free again every accepted event runs exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import pino from 'pino';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, waitFor } from '../support/harness';
import { OwnRedis } from '../support/processes';

const MAXMEMORY_BYTES = 16 * 1024 * 1024;
const LIMIT_PERCENT = 60;
const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-oom-runs-'));
// Each event's run leaves a line in a file named by its request id: a second run shows.
const record = `const fs = require('fs'); const path = require('path');
exports.handler = async (event, context) => {
  if (!event.sync) fs.appendFileSync(path.join(process.env.RUNS_DIR, context.awsRequestId), 'run\\n');
  return { ok: true };
};`;
const functionsDir = makeFunctionsDir({
  record: { config: { handler: 'index.handler', environment: { RUNS_DIR: runsDir } }, files: { 'index.js': record } },
});

let redis: OwnRedis;
let client: IORedis;
let api: ApiService | undefined;
let worker: WorkerService | undefined;
let base: string;
const workerLog: string[] = [];
const config = () =>
  testConfig({ REDIS_URL: redis.url, INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: 'oom', INVOQ_MAX_REDIS_MEMORY_PERCENT: String(LIMIT_PERCENT) });

beforeAll(async () => {
  redis = await OwnRedis.create(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-oom-')), { args: ['--maxmemory', String(MAXMEMORY_BYTES)] });
  await redis.start();
  client = new IORedis(redis.url, { maxRetriesPerRequest: 1 });
  api = await startApi(config(), silentLogger());
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
  client?.disconnect();
  await redis?.kill();
});

const invoke = (type: string, body = '{}') =>
  fetch(`${base}/2015-03-31/functions/record/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': type }, body });
const usedMemory = async () => Number(/^used_memory:(\d+)\r?$/m.exec(await client.info('memory'))![1]);
const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();
/**
 * Fills Redis past maxmemory, as something else writing into it would, unless it is full already.
 * SETRANGE at a far offset is a tiny command that allocates the whole string (a large SET is
 * refused first: its own argument counts against maxmemory).
 */
async function fillRedis(): Promise<void> {
  const full = await client.set('probe', '1').then(
    () => false,
    (e: Error) => /OOM/.test(e.message),
  );
  if (!full) await client.setrange('filler', MAXMEMORY_BYTES - (await usedMemory()) + 2 * 1024 * 1024, 'f');
  await expect(client.set('probe', '1')).rejects.toThrow(/OOM/);
}
const counterOf = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);

// The backlog, queued while no worker runs.
const accepted: string[] = [];
let workerUrl: string;

it('refuses Event with 429 before Redis is full, and keeps serving sync invokes when it is', async () => {
  // 16 KB events until the API refuses one.
  const body = JSON.stringify({ pad: 'x'.repeat(16 * 1024) });
  let refused: Response | undefined;
  while (!refused && accepted.length < 2000) {
    const res = await invoke('Event', body);
    if (res.status === 202) accepted.push(res.headers.get('x-amzn-requestid')!);
    else refused = res;
  }
  expect(refused?.status).toBe(429);
  expect(refused!.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
  expect(refused!.headers.get('retry-after')).toBe('5');
  expect(await refused!.json()).toMatchObject({ Type: 'User', Reason: 'RedisMemoryLimitExceeded' });
  // Refused with room to spare: Redis itself still takes writes.
  expect(await usedMemory()).toBeLessThan(MAXMEMORY_BYTES * 0.9);
  expect(accepted.length).toBeGreaterThan(50);
  // The gauge shows what Redis holds (its reading, not the API's estimate of what it accepted
  // since, so it may trail the refusal by one reading).
  const actualRatio = (await usedMemory()) / MAXMEMORY_BYTES;
  const gaugeOf = (text: string) => Number(/^invoq_redis_memory_used_ratio ([0-9.]+)$/m.exec(text)?.[1]);
  const apiMetrics = await waitFor(
    async () => {
      const text = await scrape(base);
      return Math.abs(gaugeOf(text) - actualRatio) < 0.1 && text;
    },
    10_000,
    'the memory gauge to show what Redis holds',
  );
  expect(gaugeOf(apiMetrics)).toBeGreaterThan(0.3);
  expect(apiMetrics).toMatch(/^invoq_throttles_total\{function="record",type="async",reason="RedisMemoryLimitExceeded"\} 1$/m);
});

it('keeps refusing Event with 429, and serves sync invokes, once Redis is full', async () => {
  await fillRedis();
  await waitFor(async () => (await invoke('Event')).status === 429, 5000, 'Event still refused with 429');
  const sync = await invoke('RequestResponse', '{"sync":true}');
  expect(sync.status).toBe(200);
  expect(await sync.json()).toEqual({ ok: true });
});

it('backs a worker off while Redis is full: few refusals, few log lines, counted, /readyz 503', async () => {
  await fillRedis();
  const logger = pino({ level: 'info' }, { write: (line: string) => void workerLog.push(line) });
  worker = await startWorker(config(), logger, { oomLogIntervalMs: 1000 });
  workerUrl = `http://127.0.0.1:${worker.metricsPort}`;
  // Two summary lines: at least two seconds of a full Redis (BullMQ alone fetched again at once,
  // thousands of times a second, with a log line each).
  const summaries = () => workerLog.filter((line) => line.includes('Redis still out of memory'));
  await waitFor(() => summaries().length >= 2, 30_000, 'two summary lines of the worker');
  const readyz = await fetch(`${workerUrl}/readyz`);
  expect(readyz.status).toBe(503);
  expect(((await readyz.json()) as { reason: string }).reason).toMatch(/out of memory/);
  const oomErrors = counterOf(await scrape(workerUrl), 'invoq_redis_oom_errors_total');
  expect(oomErrors).toBeGreaterThanOrEqual(3);
  expect(oomErrors).toBeLessThan(60);
  for (const line of summaries()) expect((JSON.parse(line) as { refused: number }).refused).toBeLessThan(30);
  // The log: the worker's start, one line when Redis first refused, then one a second.
  const oomLines = workerLog.filter((line) => /OOM|out of memory/.test(line));
  expect(oomLines.length).toBeLessThanOrEqual(summaries().length + 2);
  expect(workerLog.join('').length).toBeLessThan(5000);
  expect(fs.readdirSync(runsDir)).toEqual([]);
}, 60_000);

it('runs every accepted event exactly once when memory is free again, and is ready again', async () => {
  expect(accepted.length).toBeGreaterThan(50);
  await client.del('filler');
  await waitFor(() => fs.readdirSync(runsDir).length === accepted.length, 60_000, `all ${accepted.length} accepted events to run`);
  await waitFor(
    async () => /^invoq_queue_jobs\{function="record",state="completed"\} (\d+)$/m.exec(await scrape(workerUrl))?.[1] === String(accepted.length),
    20_000,
    'every event recorded as completed',
  );
  await waitFor(async () => (await fetch(`${workerUrl}/readyz`)).status === 200, 20_000, 'the worker to be ready again');
  expect(fs.readdirSync(runsDir).sort()).toEqual([...accepted].sort());
  for (const id of accepted) expect(fs.readFileSync(path.join(runsDir, id), 'utf8')).toBe('run\n');
  expect(workerLog.some((line) => line.includes('Redis accepts writes again'))).toBe(true);
  // The memory the backlog held is free again, so the API takes events again.
  await waitFor(async () => (await invoke('Event')).status === 202, 5000, 'Event accepted again');
}, 120_000);
