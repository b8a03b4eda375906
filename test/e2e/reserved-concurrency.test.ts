/**
 * reservedConcurrency holds across processes: two APIs and a worker share Redis leases, so
 * never more than the limit run at once; sync calls over it get 429, events over it wait.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, uniquePrefix, waitFor } from '../support/harness';

const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-reserved-'));
const functionsDir = makeFunctionsDir({
  limited: {
    config: { handler: 'index.handler', reservedConcurrency: 2, environment: { MARKERS: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { const start = Date.now(); await new Promise(r => setTimeout(r, 300)); require('node:fs').appendFileSync(process.env.MARKERS + '/' + event.kind, start + ' ' + Date.now() + '\\n'); return 'done'; };` },
  },
});
const runs = (kind: string): Array<[number, number]> =>
  fs.existsSync(path.join(markerDir, kind)) ? fs.readFileSync(path.join(markerDir, kind), 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number) as [number, number]) : [];
const maxOverlap = (spans: Array<[number, number]>) => Math.max(0, ...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));

let apis: ApiService[];
let worker: WorkerService;
beforeAll(async () => {
  const config = testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('reserved') });
  [apis, worker] = await Promise.all([Promise.all([startApi(config, silentLogger()), startApi(config, silentLogger())]), startWorker(config, silentLogger())]);
});
afterAll(async () => {
  await Promise.all([...(apis ?? []).map((a) => a.close()), worker?.close()]);
});

const invoke = (api: ApiService, kind: string, type = 'RequestResponse') =>
  fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/limited/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': type }, body: JSON.stringify({ kind }) });

it('10 parallel sync calls across two APIs: 429s, and never more than 2 running at once', async () => {
  const responses = await Promise.all(Array.from({ length: 10 }, (_, i) => invoke(apis[i % 2]!, 'sync')));
  const ok = responses.filter((r) => r.status === 200);
  const throttled = responses.filter((r) => r.status === 429);
  expect(ok.length).toBeGreaterThanOrEqual(2);
  expect(throttled.length).toBeGreaterThan(0);
  expect(ok.length + throttled.length).toBe(10);
  expect(throttled[0]!.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
  expect(await throttled[0]!.json()).toEqual({ Type: 'User', Message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
  expect(maxOverlap(runs('sync'))).toBeLessThanOrEqual(2);
  const metrics = await (await fetch(`http://127.0.0.1:${apis[0]!.port}/metrics`)).text();
  expect(metrics).toMatch(/^invoq_throttles_total\{function="limited",type="sync",reason="ReservedFunctionConcurrentInvocationLimitExceeded"\} [1-9]/m);
});

it('events over the limit wait (no attempt spent, nothing dropped): all complete, at most 2 at once', async () => {
  const ids = [];
  for (let i = 0; i < 8; i += 1) ids.push((await invoke(apis[i % 2]!, 'async', 'Event')).headers.get('x-amzn-requestid')!);
  await waitFor(() => runs('async').length === 8, 20_000, 'all events to run');
  expect(maxOverlap(runs('async'))).toBeLessThanOrEqual(2);
  for (const id of ids) {
    const status = (await (await fetch(`http://127.0.0.1:${apis[0]!.port}/invocations/${id}?wait=10`)).json()) as { status: string; attempts: number };
    expect(status).toMatchObject({ status: 'succeeded', attempts: 1 });
  }
});
