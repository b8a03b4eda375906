/**
 * Redis goes away: sync invokes keep working, Event answers 503 with Retry-After at once (no
 * hanging request, nothing buffered), /readyz says 503, the worker waits; when Redis returns,
 * everything heals by itself.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { EXAMPLE_FUNCTIONS_DIR, silentLogger, testConfig, waitFor } from '../support/harness';
import { OwnRedis } from '../support/processes';

let redis: OwnRedis;
let api: ApiService;
let worker: WorkerService;
let base: string;

beforeAll(async () => {
  redis = await OwnRedis.create(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-outage-')));
  await redis.start();
  const config = testConfig({ REDIS_URL: redis.url, INVOQ_FUNCTIONS_DIR: EXAMPLE_FUNCTIONS_DIR, INVOQ_QUEUE_PREFIX: 'outage' });
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  // The worker's close once hung here for good: see close-during-outage.test.ts.
  await Promise.all([api?.close(), worker?.close()]);
  await redis?.kill();
});

const invoke = (type: string) =>
  fetch(`${base}/2015-03-31/functions/echo/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': type }, body: '{"during":"outage"}' });

it('keeps sync working and refuses events quickly while Redis is away, then heals', async () => {
  expect((await invoke('Event')).status).toBe(202);
  await redis.kill();

  // Sync invokes of a function without a concurrency limit need no Redis.
  const sync = await invoke('RequestResponse');
  expect(sync.status).toBe(200);
  expect(await sync.json()).toEqual({ during: 'outage' });

  const started = performance.now();
  const refused = await invoke('Event');
  expect(performance.now() - started).toBeLessThan(2000);
  expect(refused.status).toBe(503);
  expect(refused.headers.get('x-amzn-errortype')).toBe('ServiceException');
  expect(refused.headers.get('retry-after')).toBe('1');
  expect((await fetch(`${base}/readyz`)).status).toBe(503);
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
  expect((await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`)).status).toBe(503);
  expect((await fetch(`${base}/metrics`)).status).toBe(200);

  await redis.start();
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, 15_000, 'the API to see Redis again');
  const accepted = await invoke('Event');
  expect(accepted.status).toBe(202);
  const status = (await (await fetch(`${base}/invocations/${accepted.headers.get('x-amzn-requestid')}?wait=20`)).json()) as { status: string };
  expect(status.status).toBe('succeeded');
}, 60_000);
