/**
 * A per-function circuit breaker: after the configured failures a sync call answers 503 at once,
 * naming the function, with Retry-After; an event waits for the half-open trial without
 * spending an attempt; both recover when the dependency does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, type Stack } from '../support/stack';
import { makeFunctionsDir, testConfig, uniquePrefix, waitFor } from '../support/harness';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-breaker-'));
const down = path.join(stateDir, 'down');
const calls = path.join(stateDir, 'calls');
const functionsDir = makeFunctionsDir({
  dependent: {
    config: { handler: 'index.handler', circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs: 1000 }, environment: { STATE: stateDir } },
    files: { 'index.js': `const fs = require('node:fs'); exports.handler = async () => { fs.appendFileSync(process.env.STATE + '/calls', 'x'); if (fs.existsSync(process.env.STATE + '/down')) throw new Error('dependency down'); return 'up'; };` },
  },
  unguarded: {
    config: { handler: 'index.handler', circuitBreaker: false },
    files: { 'index.js': 'exports.handler = async () => { throw new Error("always"); };' },
  },
});
const callCount = () => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').length : 0);

let stack: Stack;
let base: string;
beforeAll(async () => {
  stack = await startStack(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('breaker'), INVOQ_RETRY_BASE_DELAY_MS: '100' }));
  base = stack.base;
});
afterAll(async () => {
  await stack?.close();
});

const invoke = (fn: string, type = 'RequestResponse') => fetch(`${base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': type }, body: '{}' });
const apiMetrics = async () => (await fetch(`${base}/metrics`)).text();

it('opens after the configured failures, answers 503 at once, then recovers', async () => {
  fs.writeFileSync(down, '');
  for (let i = 0; i < 3; i += 1) expect((await invoke('dependent')).headers.get('x-amz-function-error')).toBe('Unhandled');
  expect(await apiMetrics()).toMatch(/^invoq_circuit_state\{function="dependent"\} 1$/m);

  const before = callCount();
  const started = performance.now();
  const refused = await invoke('dependent');
  const elapsedMs = performance.now() - started;
  expect(refused.status).toBe(503);
  expect(refused.headers.get('x-amzn-errortype')).toBe('ServiceException');
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect(((await refused.json()) as { Message: string }).Message).toMatch(/circuit breaker of function dependent is open/);
  // No wait on the dead dependency: the function was not even called (the tight < 50 ms is the
  // benchmark's; this bound only catches a breaker that waits).
  expect(callCount()).toBe(before);
  expect(elapsedMs).toBeLessThan(500);

  fs.rmSync(down);
  const recovered = await waitFor(async () => {
    const res = await invoke('dependent');
    return res.status === 200 && (await res.json());
  }, 10_000, 'the half-open trial to close the breaker');
  expect(recovered).toBe('up');
  expect(await apiMetrics()).toMatch(/^invoq_circuit_state\{function="dependent"\} 0$/m);
});

it('never opens for a function with "circuitBreaker": false', async () => {
  for (let i = 0; i < 8; i += 1) expect((await invoke('unguarded')).status).toBe(200);
});

it('holds an event while the breaker is open, without spending its attempts', async () => {
  // Open the worker's breaker with failing events (each its own attempt 1 of 3, failing fast).
  fs.writeFileSync(down, '');
  const openers = [];
  for (let i = 0; i < 3; i += 1) openers.push((await invoke('dependent', 'Event')).headers.get('x-amzn-requestid')!);
  await waitFor(async () => /^invoq_circuit_state\{function="dependent"\} 1$/m.test(await (await fetch(`http://127.0.0.1:${stack.worker.metricsPort}/metrics`)).text()), 10_000, 'the worker breaker to open');
  // An event that arrives while the breaker is open waits; it is not run and fails nothing.
  const held = (await invoke('dependent', 'Event')).headers.get('x-amzn-requestid')!;
  fs.rmSync(down);
  const heldStatus = (await (await fetch(`${base}/invocations/${held}?wait=20`)).json()) as { status: string; attempts: number; history: Array<{ outcome: string }> };
  expect(heldStatus).toMatchObject({ status: 'succeeded', attempts: 1 });
  expect(heldStatus.history.map((h) => h.outcome)).toEqual(['success']);
  // Every event eventually succeeds; none reaches the DLQ.
  for (const id of openers) {
    const status = (await (await fetch(`${base}/invocations/${id}?wait=20`)).json()) as { status: string; attempts: number };
    expect(status.status).toBe('succeeded');
  }
  expect(((await (await fetch(`${base}/dlq?functionName=dependent`)).json()) as { items: unknown[] }).items).toHaveLength(0);
}, 60_000);
