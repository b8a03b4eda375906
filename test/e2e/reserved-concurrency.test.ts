/**
 * reservedConcurrency holds across processes: two APIs and two workers share Redis leases, so
 * never more than the limit run at once; sync calls over it get 429, events over it wait
 * (holding the function's queue) and spend no attempt.
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
    files: {
      'index.js': `exports.handler = async (event) => { const start = Date.now(); await new Promise(r => setTimeout(r, 300)); require('node:fs').appendFileSync(process.env.MARKERS + '/' + event.kind, start + ' ' + Date.now() + '\\n'); return 'done'; };`,
    },
  },
});
const runs = (kind: string): Array<[number, number]> =>
  fs.existsSync(path.join(markerDir, kind))
    ? fs
        .readFileSync(path.join(markerDir, kind), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ').map(Number) as [number, number])
    : [];
const maxOverlap = (spans: Array<[number, number]>) => Math.max(0, ...spans.map(([start]) => spans.filter(([s, e]) => s <= start && start < e).length));

let apis: ApiService[];
let workers: WorkerService[];
beforeAll(async () => {
  const config = testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('reserved') });
  // Each worker alone would run 2 at once (its concurrency for this function): only the shared
  // leases keep the two together at 2.
  [apis, workers] = await Promise.all([
    Promise.all([startApi(config, silentLogger()), startApi(config, silentLogger())]),
    Promise.all([startWorker(config, silentLogger()), startWorker(config, silentLogger())]),
  ]);
});
afterAll(async () => {
  await Promise.all([...(apis ?? []).map((a) => a.close()), ...(workers ?? []).map((w) => w.close())]);
});
const metricsOf = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
const statusOf = async (id: string) =>
  (await (await fetch(`http://127.0.0.1:${apis[0]!.port}/invocations/${id}?wait=10`)).json()) as { status: string; attempts: number; history: unknown[] };

const invoke = (api: ApiService, kind: string, type = 'RequestResponse') =>
  fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/limited/invocations`, {
    method: 'POST',
    headers: { 'x-amz-invocation-type': type },
    body: JSON.stringify({ kind }),
  });

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
  const metrics = await metricsOf(apis[0]!.port);
  expect(metrics).toMatch(/^invoq_throttles_total\{function="limited",type="sync",reason="ReservedFunctionConcurrentInvocationLimitExceeded"\} [1-9]/m);
});

it('events over the limit wait (no attempt spent, nothing dropped): all complete, at most 2 at once', async () => {
  const ids = [];
  for (let i = 0; i < 8; i += 1) ids.push((await invoke(apis[i % 2]!, 'async', 'Event')).headers.get('x-amzn-requestid')!);
  await waitFor(() => runs('async').length === 8, 20_000, 'all events to run');
  expect(maxOverlap(runs('async'))).toBeLessThanOrEqual(2);
  for (const id of ids) expect(await statusOf(id)).toMatchObject({ status: 'succeeded', attempts: 1, history: [expect.anything()] });
  // Both workers took part, and waiting was not taken for a lost worker.
  const workerMetrics = await Promise.all(workers.map((w) => metricsOf(w.metricsPort)));
  for (const text of workerMetrics) {
    expect(text).toMatch(/^invoq_invocations_total\{function="limited",type="async"\} [1-9]/m);
    expect(text).toMatch(/^invoq_async_reruns_total\{function="limited"\} 0$/m);
  }
});

it('sync calls and events share the limit: never more than 2 running at once, all events run once', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 6; i += 1) ids.push((await invoke(apis[i % 2]!, 'mixed-event', 'Event')).headers.get('x-amzn-requestid')!);
  // While the workers run them, a caller makes sync calls through both APIs in turn, one at a
  // time (two back to back would hold both leases for good: sync callers, like Lambda's, are
  // not queued behind events).
  const sync: Response[] = [];
  while (runs('mixed-event').length < 6) {
    sync.push(await invoke(apis[sync.length % 2]!, 'mixed-sync'));
    if (sync.length > 400) throw new Error('events did not finish');
  }
  expect(sync.every((r) => r.status === 200 || r.status === 429)).toBe(true);
  expect(sync.some((r) => r.status === 429)).toBe(true);
  expect(maxOverlap([...runs('mixed-event'), ...runs('mixed-sync')])).toBeLessThanOrEqual(2);
  expect(runs('mixed-sync').length).toBe(sync.filter((r) => r.status === 200).length);
  for (const id of ids) expect(await statusOf(id)).toMatchObject({ status: 'succeeded', attempts: 1, history: [expect.anything()] });
});
