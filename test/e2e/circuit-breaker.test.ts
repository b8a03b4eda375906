/**
 * A per-function circuit breaker: after the configured failures a sync call answers 503 at once,
 * naming the function, with Retry-After; half-open lets one trial through (and only a success of
 * the function closes it); an event waits for the trial without spending an attempt; both paths
 * recover when the dependency does, for handler and http-runtime functions alike.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { Queue } from 'bullmq';
import pino from 'pino';
import { functionQueueName, queueHoldRemainingMs } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

/** Each function keeps its markers and call count in `<stateDir>/<function>/`. */
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-breaker-'));
const markerPath = (fn: string, marker: 'down' | 'slow' | 'calls') => path.join(stateDir, fn, marker);
const setMarker = (fn: string, marker: 'down' | 'slow', on: boolean) =>
  on ? fs.writeFileSync(markerPath(fn, marker), '') : fs.rmSync(markerPath(fn, marker), { force: true });
const callCount = (fn: string) => (fs.existsSync(markerPath(fn, 'calls')) ? fs.readFileSync(markerPath(fn, 'calls'), 'utf8').length : 0);
/** Counts its calls; sleeps 500 ms while `slow` is set; throws while `down` is set. */
const dependentSource = `const fs = require('node:fs');
exports.handler = async (event, context) => {
  const dir = process.env.STATE + '/' + context.functionName;
  fs.appendFileSync(dir + '/calls', 'x');
  if (fs.existsSync(dir + '/slow')) await new Promise((resolve) => setTimeout(resolve, 500));
  if (fs.existsSync(dir + '/down')) throw new Error('dependency down');
  return 'up';
};`;
const dependent = (resetTimeoutMs: number) => ({
  config: { handler: 'index.handler', circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs }, environment: { STATE: stateDir } },
  files: { 'index.js': dependentSource },
});
const HELD_RESET_MS = 2500;

/** The http-runtime function's upstream: answers 500 while `upstream.healthy` is false. */
const upstream = { healthy: true, requests: 0, server: http.createServer() };
upstream.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
  upstream.requests += 1;
  req.resume();
  req.on('end', () => {
    if (upstream.healthy) res.writeHead(200, { 'content-type': 'application/json' }).end('{"upstream":"ok"}');
    else res.writeHead(500).end('upstream broken');
  });
});

/** What each process logged, parsed. */
const logs = { api: [] as Array<Record<string, unknown>>, worker: [] as Array<Record<string, unknown>> };
const captureTo = (lines: Array<Record<string, unknown>>) =>
  pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    }),
  );
const transitionsLogged = (lines: Array<Record<string, unknown>>, fn: string) =>
  lines.filter((l) => l.msg === 'circuit breaker changed state' && l.functionName === fn).map((l) => l.state);

let api: ApiService;
let worker: WorkerService;
let base: string;
let prefix: string;
beforeAll(async () => {
  upstream.server.listen(0, '127.0.0.1');
  await new Promise((resolve) => upstream.server.once('listening', resolve));
  const upstreamUrl = `http://127.0.0.1:${(upstream.server.address() as AddressInfo).port}/fn`;
  const functionsDir = makeFunctionsDir({
    dependent: dependent(1000),
    slowTrial: dependent(1000),
    strict: dependent(1000),
    heldDep: dependent(HELD_RESET_MS),
    unguarded: {
      config: { handler: 'index.handler', circuitBreaker: false },
      files: { 'index.js': 'exports.handler = async () => { throw new Error("always"); };' },
    },
    upstreamFn: {
      config: { runtime: 'http', url: upstreamUrl, circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs: 1000 } },
      files: {},
    },
  });
  for (const fn of ['dependent', 'slowTrial', 'strict', 'heldDep']) fs.mkdirSync(path.join(stateDir, fn));
  prefix = uniquePrefix('breaker');
  const config = testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: prefix, INVOQ_RETRY_BASE_DELAY_MS: '1000' });
  [api, worker] = await Promise.all([startApi(config, captureTo(logs.api)), startWorker(config, captureTo(logs.worker))]);
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
  upstream.server.closeAllConnections();
  await new Promise((resolve) => upstream.server.close(resolve));
});

const invoke = (fn: string, type = 'RequestResponse', body = '{}') =>
  fetch(`${base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': type }, body });
const stateOf = async (metricsUrl: string, fn: string) => {
  const match = new RegExp(`^invoq_circuit_state\\{function="${fn}"\\} (\\d+)$`, 'm').exec(await (await fetch(metricsUrl)).text());
  return match ? Number(match[1]) : undefined;
};
const apiState = (fn: string) => stateOf(`${base}/metrics`, fn);
const workerState = (fn: string) => stateOf(`http://127.0.0.1:${worker.metricsPort}/metrics`, fn);
const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;

/** Three failing sync calls: the breaker's volume threshold, all failures. */
async function openSync(fn: string): Promise<void> {
  for (let i = 0; i < 3; i += 1) expect((await invoke(fn)).headers.get('x-amz-function-error')).toBe('Unhandled');
  expect(await apiState(fn)).toBe(OPEN);
}

async function expectRefused(res: Response, fn: string): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get('x-amzn-errortype')).toBe('ServiceException');
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = (await res.json()) as { Message: string; Reason: string };
  expect(body.Message).toMatch(new RegExp(`circuit breaker of function ${fn} is open`));
  expect(body.Reason).toBe('CircuitBreakerOpen');
}

interface EventStatus {
  status: string;
  attempts: number;
  history: Array<{ outcome: string }>;
}
const eventStatus = async (id: string) => (await (await fetch(`${base}/invocations/${id}?wait=20`)).json()) as EventStatus;

it('opens after the configured failures, answers 503 at once, then recovers', async () => {
  setMarker('dependent', 'down', true);
  await openSync('dependent');

  const before = callCount('dependent');
  const started = performance.now();
  const refused = await invoke('dependent');
  const elapsedMs = performance.now() - started;
  await expectRefused(refused, 'dependent');
  // No wait on the dead dependency: the function was not even called (the tight < 50 ms is the
  // benchmark's; this bound only catches a breaker that waits).
  expect(callCount('dependent')).toBe(before);
  expect(elapsedMs).toBeLessThan(500);

  setMarker('dependent', 'down', false);
  const recovered = await waitFor(
    async () => {
      const res = await invoke('dependent');
      return res.status === 200 && (await res.json());
    },
    10_000,
    'the half-open trial to close the breaker',
  );
  expect(recovered).toBe('up');
  // Refused calls ran nothing: the only run after the refusal is the trial.
  expect(callCount('dependent')).toBe(before + 1);
  expect(await apiState('dependent')).toBe(CLOSED);
});

it('never opens for a function with "circuitBreaker": false', async () => {
  for (let i = 0; i < 8; i += 1) expect((await invoke('unguarded')).status).toBe(200);
  expect(await apiState('unguarded')).toBe(CLOSED);
});

it('shows half-open while its one trial runs, refuses the others, and logs every transition', async () => {
  setMarker('slowTrial', 'down', true);
  await openSync('slowTrial');
  setMarker('slowTrial', 'down', false);
  setMarker('slowTrial', 'slow', true);
  await waitFor(async () => (await apiState('slowTrial')) === HALF_OPEN, 5_000, 'resetTimeout to make the breaker half-open');

  const before = callCount('slowTrial');
  const trial = invoke('slowTrial');
  await waitFor(() => callCount('slowTrial') > before, 5_000, 'the trial call to start');
  // The trial sleeps 500 ms: still half-open meanwhile, and a second call is not let through.
  expect(await apiState('slowTrial')).toBe(HALF_OPEN);
  await expectRefused(await invoke('slowTrial'), 'slowTrial');
  const trialRes = await trial;
  expect(trialRes.status).toBe(200);
  expect(await trialRes.json()).toBe('up');
  expect(callCount('slowTrial')).toBe(before + 1);
  expect(await apiState('slowTrial')).toBe(CLOSED);

  // Logged at warn by the API (the worker never ran this function).
  expect(transitionsLogged(logs.api, 'slowTrial')).toEqual(['open', 'halfOpen', 'closed']);
  expect(logs.api.find((l) => l.functionName === 'slowTrial' && l.msg === 'circuit breaker changed state')).toMatchObject({ level: 40 });
  expect(transitionsLogged(logs.worker, 'slowTrial')).toEqual([]);
  setMarker('slowTrial', 'slow', false);
});

it('guards an http-runtime function: an upstream answering 500 opens it, and it recovers', async () => {
  upstream.healthy = false;
  for (let i = 0; i < 3; i += 1) {
    const res = await invoke('upstreamFn');
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await res.json()).toMatchObject({ errorType: 'Function.UpstreamError', errorMessage: expect.stringContaining('HTTP 500') });
  }
  expect(await apiState('upstreamFn')).toBe(OPEN);

  const before = upstream.requests;
  const started = performance.now();
  const refused = await invoke('upstreamFn');
  const elapsedMs = performance.now() - started;
  await expectRefused(refused, 'upstreamFn');
  expect(elapsedMs).toBeLessThan(500);
  expect(upstream.requests).toBe(before);

  upstream.healthy = true;
  const recovered = await waitFor(
    async () => {
      const res = await invoke('upstreamFn');
      return res.status === 200 && (await res.json());
    },
    10_000,
    'the half-open trial to close the breaker',
  );
  expect(recovered).toEqual({ upstream: 'ok' });
  // While open, nothing reached the upstream; then exactly the trial did.
  expect(upstream.requests).toBe(before + 1);
  expect(await apiState('upstreamFn')).toBe(CLOSED);
  // No environment parses an http function's body: the API checks it, and the upstream never
  // sees a body that is not JSON.
  const invalid = await invoke('upstreamFn', 'RequestResponse', '{not json');
  expect([invalid.status, invalid.headers.get('x-amzn-errortype')]).toEqual([400, 'InvalidRequestContentException']);
  expect(upstream.requests).toBe(before + 1);
});

it('refuses a bad body during half-open without spending the trial on it', async () => {
  setMarker('strict', 'down', true);
  await openSync('strict');
  setMarker('strict', 'down', false);
  await waitFor(async () => (await apiState('strict')) === HALF_OPEN, 5_000, 'resetTimeout to make the breaker half-open');

  // A bad body is refused on the API's thread while a trial is due: it says nothing about the
  // function, so it neither spends the trial nor closes or reopens the breaker.
  const before = callCount('strict');
  const invalid = await invoke('strict', 'RequestResponse', '{not json');
  expect(invalid.status).toBe(400);
  expect(invalid.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
  expect(await apiState('strict')).toBe(HALF_OPEN);
  expect(callCount('strict')).toBe(before);

  // The trial is the next real call, and it closes the breaker.
  const recovered = await invoke('strict');
  expect([recovered.status, await recovered.json()]).toEqual([200, 'up']);
  expect(callCount('strict')).toBe(before + 1);
  expect(await apiState('strict')).toBe(CLOSED);
  expect(transitionsLogged(logs.api, 'strict')).toEqual(['open', 'halfOpen', 'closed']);
});

it('holds an event while the breaker is open, without spending its attempts', async () => {
  const queue = new Queue(functionQueueName('heldDep'), { connection: { url: testRedisUrl() }, prefix });
  try {
    // Open the worker's breaker with failing events, each its attempt 1 of 3 (their retries,
    // 750-1000 ms later, cannot overtake the three enqueues).
    setMarker('heldDep', 'down', true);
    const openers = [];
    for (let i = 0; i < 3; i += 1) openers.push((await invoke('heldDep', 'Event')).headers.get('x-amzn-requestid')!);
    await waitFor(async () => (await workerState('heldDep')) === OPEN, 10_000, 'the worker breaker to open');
    const openSeenAt = Date.now();
    // Run concurrently, two failures of three fires can open it while the third still runs.
    const callsWhileOpen = await waitFor(() => callCount('heldDep') === 3 && 3, 5_000, 'the three first attempts to run');

    const held = (await invoke('heldDep', 'Event')).headers.get('x-amzn-requestid')!;
    // The queue is held (BullMQ's rate limit: its limiter count at max, not merely its key alive)
    // by the first event a worker takes while open, likely this one, which goes back to wait
    // (not to delayed).
    await waitFor(
      async () => (await queueHoldRemainingMs(queue)) > 0 && (await (await queue.getJob(held))?.getState()) === 'waiting',
      1_000,
      'the held event back in wait under a queue hold',
    );
    const fetchesBefore = (await queue.getJob(held))!.attemptsStarted;
    // Time passing is the subject: with the dependency still down, until shortly before the
    // half-open trial (resetTimeout after opening) the held event sits waiting, untouched, and
    // nothing runs. The trial itself may be this event, so the dependency comes up before it.
    let checks = 0;
    while (Date.now() < openSeenAt + HELD_RESET_MS - 1000) {
      const job = (await queue.getJob(held))!;
      expect(await job.getState()).toBe('waiting');
      expect(job.attemptsMade).toBe(0);
      // No worker took it again: one hold lasts until the trial is due, not a poll of fetches.
      expect(job.attemptsStarted).toBe(fetchesBefore);
      expect(await queueHoldRemainingMs(queue)).toBeGreaterThan(openSeenAt + HELD_RESET_MS - 700 - Date.now());
      expect(callCount('heldDep')).toBe(callsWhileOpen);
      expect(await workerState('heldDep')).toBe(OPEN);
      checks += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(checks).toBeGreaterThan(5);

    setMarker('heldDep', 'down', false);
    const heldStatus = await eventStatus(held);
    expect(heldStatus).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(heldStatus.history.map((h) => h.outcome)).toEqual(['success']);
    // The openers' retries were held too: each spent only its failed attempt and its success.
    for (const id of openers) {
      const status = await eventStatus(id);
      expect(status).toMatchObject({ status: 'succeeded', attempts: 2 });
      expect(status.history.map((h) => h.outcome)).toEqual(['error', 'success']);
    }
    expect(callCount('heldDep')).toBe(callsWhileOpen + 4);
    expect(((await (await fetch(`${base}/dlq?functionName=heldDep`)).json()) as { items: unknown[] }).items).toHaveLength(0);
    expect(await workerState('heldDep')).toBe(CLOSED);
    expect(transitionsLogged(logs.worker, 'heldDep')).toEqual(['open', 'halfOpen', 'closed']);
  } finally {
    await queue.close();
  }
}, 30_000);
