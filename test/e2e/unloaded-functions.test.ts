/**
 * Events of a function this deployment does not load: queued, then its folder removed and both
 * tiers restarted. They stay visible (status with `functionLoaded: false`, the queue gauges, a
 * warning from each tier with the function and the count), the ones past the function's maximum
 * event age go to the DLQ as FunctionNotFound, and putting the folder back runs the rest (and a
 * redrive of the dead-lettered ones). Also an API and a worker that load different lists.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import IORedis from 'ioredis';
import { EVENT_JOB_NAME, EventQueues, createRedisConnection, waitForRedis, type Logger } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const echo = { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (event) => ({ ran: event });' } };
const LIMITS = { headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 };
/** Short background intervals, so "later" is within a test's patience. */
const FAST = { knownQueues: { discoverEveryMs: 100, countEveryMs: 100, noWorkerGraceMs: 0 }, loaders: { heartbeatMs: 200 } };

const connection = createRedisConnection(testRedisUrl());
const raw = new IORedis(testRedisUrl());
const opened: Array<{ close(): Promise<void> }> = [];
const queuesByPrefix: EventQueues[] = [];

afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await Promise.all(queuesByPrefix.map((q) => q.close()));
  await connection.quit();
  raw.disconnect();
});

/** A logger whose JSON lines the test reads. */
function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

async function api(dir: string, prefix: string, logger: Logger, options = {}): Promise<ApiService> {
  const service = await startApi(testConfig({ INVOQ_FUNCTIONS_DIR: dir, INVOQ_QUEUE_PREFIX: prefix }), logger, LIMITS, options);
  opened.push(service);
  return service;
}
async function worker(dir: string, prefix: string, logger: Logger, options = {}): Promise<WorkerService> {
  const service = await startWorker(testConfig({ INVOQ_FUNCTIONS_DIR: dir, INVOQ_QUEUE_PREFIX: prefix }), logger, { eventInvokeConfigCacheMs: 0, ...options });
  opened.push(service);
  return service;
}
async function stop(service: { close(): Promise<void> }): Promise<void> {
  opened.splice(opened.indexOf(service), 1);
  await service.close();
}

const base = (service: ApiService) => `http://127.0.0.1:${service.port}`;
async function fire(service: ApiService, fn: string): Promise<string> {
  const res = await fetch(`${base(service)}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    headers: { 'x-amz-invocation-type': 'Event' },
    body: '{}',
  });
  expect(res.status).toBe(202);
  return res.headers.get('x-amzn-requestid')!;
}
async function status(service: ApiService, id: string, wait = 0): Promise<{ code: number; body: Record<string, any> }> {
  const res = await fetch(`${base(service)}/invocations/${id}?wait=${wait}`);
  return { code: res.status, body: (await res.json()) as Record<string, any> };
}
const scrape = async (url: string) => (await fetch(url)).text();
const warnings = (lines: Array<Record<string, unknown>>, fn: string) => lines.filter((l) => l.level === 40 && l.functionName === fn);

describe('a function whose folder was removed while its events were queued', () => {
  const prefix = uniquePrefix('unloaded');
  let dir: string;
  const aged: string[] = [];
  const young: string[] = [];
  let apiTier: ApiService;
  let workerTier: WorkerService;
  const apiLog = capturingLogger();
  const workerLog = capturingLogger();

  beforeAll(async () => {
    await waitForRedis(connection);
    dir = makeFunctionsDir({ gone: echo, kept: echo });
    const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
    queuesByPrefix.push(queues);
    // Accepted ten minutes ago, so past the 60 s set below (and queued first, as they would be).
    for (let i = 0; i < 5; i++) {
      const id = randomUUID();
      await queues.get('gone').add(EVENT_JOB_NAME, { v: 1, payload: '{}', receivedAt: Date.now() - 600_000 }, { jobId: id });
      aged.push(id);
    }
    // An API without a worker accepts more; the function's maximum event age is set at run time.
    const before = await api(dir, prefix, capturingLogger().logger);
    const put = await fetch(`${base(before)}/2019-09-25/functions/gone/event-invoke-config`, {
      method: 'PUT',
      body: JSON.stringify({ MaximumEventAgeInSeconds: 60 }),
    });
    expect(put.status).toBe(200);
    for (let i = 0; i < 20; i++) young.push(await fire(before, 'gone'));
    await stop(before);

    fs.rmSync(path.join(dir, 'gone'), { recursive: true });
    // The worker first, so the API's count at its start comes after the worker's sweep.
    workerTier = await worker(dir, prefix, workerLog.logger);
    await waitFor(async () => (await raw.zcard(`${prefix}:{gone}:failed`)) === 5 || undefined, 15_000, 'the aged events in the DLQ');
    apiTier = await api(dir, prefix, apiLog.logger);
  });

  it('answers the status of its queued events, saying the function is not loaded', async () => {
    const { code, body } = await status(apiTier, young[0]!);
    expect(code).toBe(200);
    expect(body).toMatchObject({ requestId: young[0], functionName: 'gone', status: 'queued', functionLoaded: false });
  });

  it('warns at the start of each tier, with the function and the count of queued events', async () => {
    await waitFor(() => warnings(apiLog.lines, 'gone').length > 0, 5000, "the API's warning");
    expect(warnings(apiLog.lines, 'gone')).toEqual([
      expect.objectContaining({ functionName: 'gone', queued: 20, msg: expect.stringMatching(/does not load/) }),
    ]);
    // The worker counted before it swept: the aged ones were still queued.
    expect(warnings(workerLog.lines, 'gone')[0]).toEqual(
      expect.objectContaining({ functionName: 'gone', queued: 25, msg: expect.stringMatching(/no worker loads/) }),
    );
    expect(apiLog.lines.some((l) => l.functionName === 'kept' && l.level === 40)).toBe(false);
  });

  it('keeps counting it in the queue gauges of both tiers', async () => {
    for (const url of [`${base(apiTier)}/metrics`, `http://127.0.0.1:${workerTier.metricsPort}/metrics`]) {
      const text = await waitFor(
        async () => {
          const t = await scrape(url);
          return /^invoq_unloaded_function_events\{function="gone"\} 20$/m.test(t) && t;
        },
        10_000,
        `the gauges on ${url}`,
      );
      expect(text).toMatch(/^invoq_queue_jobs\{function="gone",state="waiting"\} 20$/m);
      // Queued before the restart: older than nothing (how much older depends on this machine).
      expect(Number(/^invoq_queue_oldest_age_seconds\{function="gone"\} (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
      expect(text).toMatch(/^invoq_dlq_depth\{function="gone"\} 5$/m);
      expect(text).toMatch(/^invoq_unloaded_function_events\{function="kept"\} 0$/m);
    }
  });

  it('moves the events past the maximum event age to the DLQ as FunctionNotFound, counted', async () => {
    const { code, body } = await status(apiTier, aged[0]!);
    expect(code).toBe(200);
    expect(body).toMatchObject({ status: 'dead-lettered', reason: 'FunctionNotFound', functionLoaded: false, error: { errorType: 'FunctionNotFound' } });
    const dlq = await fetch(`${base(apiTier)}/dlq?functionName=gone`);
    expect(dlq.status).toBe(200);
    const page = (await dlq.json()) as { items: Array<Record<string, unknown>> };
    expect(page.items.map((i) => i.requestId).sort()).toEqual([...aged].sort());
    expect(page.items.every((i) => i.reason === 'FunctionNotFound')).toBe(true);
    // Listed with every function's entries too.
    const all = (await (await fetch(`${base(apiTier)}/dlq`)).json()) as { items: Array<Record<string, unknown>> };
    expect(all.items.filter((i) => i.functionName === 'gone')).toHaveLength(5);
    const metrics = await scrape(`http://127.0.0.1:${workerTier.metricsPort}/metrics`);
    expect(metrics).toMatch(/^invoq_dead_letter_total\{function="gone",reason="FunctionNotFound"\} 5$/m);
    expect(metrics).toMatch(/^invoq_async_events_dropped_total\{function="gone",reason="FunctionNotFound"\} 5$/m);
    expect(workerLog.lines).toContainEqual(expect.objectContaining({ functionName: 'gone', count: 5, reason: 'FunctionNotFound' }));
    // The young ones were left queued.
    expect(await raw.llen(`${prefix}:{gone}:wait`)).toBe(20);
  });

  it('runs the queued events once the folder is back, and the dead-lettered ones when redriven', async () => {
    await Promise.all([stop(apiTier), stop(workerTier)]);
    const back = makeFunctionsDir({ gone: echo });
    fs.cpSync(path.join(back, 'gone'), path.join(dir, 'gone'), { recursive: true });
    [apiTier, workerTier] = await Promise.all([api(dir, prefix, capturingLogger().logger), worker(dir, prefix, capturingLogger().logger)]);
    for (const id of young) expect((await status(apiTier, id, 20)).body).toMatchObject({ status: 'succeeded', functionLoaded: true });
    // A redrive is a new delivery: its age counts from the redrive, so it runs.
    const redrive = await fetch(`${base(apiTier)}/dlq/redrive`, { method: 'POST', body: JSON.stringify({ functionName: 'gone' }) });
    const started = (await redrive.json()) as { redriven: number; redrives: Array<{ statusUrl: string }> };
    expect(started.redriven).toBe(5);
    // The entries go back in the background: the status URL says when all have.
    await waitFor(
      async () => ((await (await fetch(`${base(apiTier)}${started.redrives[0]!.statusUrl}`)).json()) as { state: string }).state === 'finished',
      10_000,
      'the redrive to finish',
    );
    for (const id of aged) expect((await status(apiTier, id, 20)).body).toMatchObject({ status: 'succeeded' });
  });
});

describe('an API and a worker that load different functions', () => {
  const prefix = uniquePrefix('lists');
  const apiLog = capturingLogger();
  const workerLog = capturingLogger();
  let apiTier: ApiService;

  beforeAll(async () => {
    await waitForRedis(connection);
    apiTier = await api(makeFunctionsDir({ apiOnly: echo, both: echo }), prefix, apiLog.logger, FAST);
    await worker(makeFunctionsDir({ both: echo }), prefix, workerLog.logger, FAST);
  });

  it('says an event accepted for a function no worker loads will not run, and both tiers warn when they first see it', async () => {
    const id = await fire(apiTier, 'apiOnly');
    expect((await status(apiTier, id)).body).toMatchObject({ status: 'queued', functionLoaded: false });
    await waitFor(() => warnings(apiLog.lines, 'apiOnly').length > 0, 10_000, "the API's warning");
    expect(warnings(apiLog.lines, 'apiOnly')).toEqual([expect.objectContaining({ queued: 1, msg: expect.stringMatching(/no worker/) })]);
    await waitFor(() => warnings(workerLog.lines, 'apiOnly').length > 0, 10_000, "the worker's warning");
    expect(warnings(workerLog.lines, 'apiOnly')).toEqual([expect.objectContaining({ queued: 1, msg: expect.stringMatching(/no worker loads/) })]);
    // Young: it waits, not dead-lettered.
    expect(await raw.llen(`${prefix}:{apiOnly}:wait`)).toBe(1);
    // A function both load runs, and its status says so.
    const ran = await fire(apiTier, 'both');
    expect((await status(apiTier, ran, 20)).body).toMatchObject({ status: 'succeeded', functionLoaded: true });
  });
});
