/**
 * Every async event accounted for: its status through its whole life, long-polling, the
 * dead-letter queue (browse, page, inspect, redrive, delete) and Idempotency-Key.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, type Stack } from '../support/stack';
import { makeFunctionsDir, testConfig, uniquePrefix, waitFor } from '../support/harness';

const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-life-'));
const count = `const file = require('node:path').join(process.env.MARKER_DIR, String(event.id)); require('node:fs').appendFileSync(file, 'x'); const n = require('node:fs').readFileSync(file, 'utf8').length;`;
const functionsDir = makeFunctionsDir({
  // Fails twice, then succeeds: attempt 3 of 3.
  flaky: {
    config: { handler: 'index.handler', circuitBreaker: false, environment: { MARKER_DIR: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { ${count} if (n < 3) throw new Error('attempt ' + n + ' failed'); return { attempt: n }; };` },
  },
  once: {
    config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 0 }, environment: { MARKER_DIR: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { ${count} throw new Error('no second chance'); };` },
  },
  healer: {
    config: { handler: 'index.handler', circuitBreaker: false, environment: { MARKER_DIR: markerDir } },
    files: {
      'index.js': `exports.handler = async (event) => { ${count} if (process.env.HEALED !== 'yes' && !require('node:fs').existsSync(process.env.MARKER_DIR + '/healed')) throw new Error('still broken'); return 'healed'; };`,
    },
  },
  counter: {
    config: { handler: 'index.handler', environment: { MARKER_DIR: markerDir } },
    files: { 'index.js': `exports.handler = async (event) => { ${count} return n; };` },
  },
  napper: {
    config: { handler: 'index.handler', timeout: 5 },
    files: { 'index.js': 'exports.handler = async () => { await new Promise(r => setTimeout(r, 600)); return "rested"; };' },
  },
});
const runs = (id: string) => (fs.existsSync(path.join(markerDir, id)) ? fs.readFileSync(path.join(markerDir, id), 'utf8').length : 0);

let stack: Stack;
let base: string;
beforeAll(async () => {
  stack = await startStack(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('life'), INVOQ_RETRY_BASE_DELAY_MS: '100' }));
  base = stack.base;
});
afterAll(async () => {
  await stack?.close();
});

async function fire(fn: string, body: unknown, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${base}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    headers: { 'x-amz-invocation-type': 'Event', ...headers },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(202);
  return res.headers.get('x-amzn-requestid')!;
}
const status = async (id: string, wait?: number) => {
  const res = await fetch(`${base}/invocations/${id}${wait === undefined ? '' : `?wait=${wait}`}`);
  return { code: res.status, body: (await res.json()) as Record<string, any> };
};

describe('GET /invocations/{requestId}', () => {
  it('follows an event that succeeds on attempt 3, with its history', async () => {
    const id = await fire('flaky', { id: 'flaky-1', secret: 'not in status' });
    const seen = new Set<string>();
    const done = await waitFor(
      async () => {
        const s = (await status(id)).body;
        seen.add(s.status);
        return s.status === 'succeeded' && s;
      },
      10_000,
      'flaky to succeed',
    );
    expect(seen.has('retrying')).toBe(true);
    expect(done).toMatchObject({ requestId: id, functionName: 'flaky', status: 'succeeded', attempts: 3, result: { attempt: 3 } });
    expect(done.history.map((h: any) => [h.attempt, h.outcome])).toEqual([
      [1, 'error'],
      [2, 'error'],
      [3, 'success'],
    ]);
    expect(done.history[0].error).toEqual({ errorType: 'Error', errorMessage: 'attempt 1 failed' });
    expect(Date.parse(done.receivedAt)).toBeLessThanOrEqual(Date.parse(done.finishedAt));
    expect(done).not.toHaveProperty('payload');
  });

  it('shows queued/running and long-polls with ?wait until the event is finished', async () => {
    const id = await fire('napper', {});
    const early = (await status(id)).body;
    expect(['queued', 'running']).toContain(early.status);
    const started = Date.now();
    const finished = await status(id, 10);
    expect(finished.body).toMatchObject({ status: 'succeeded', result: 'rested', attempts: 1 });
    expect(Date.now() - started).toBeLessThan(9000);
  });

  it('answers 404 for an unknown id, 400 for a wait over 30 s', async () => {
    expect((await status('00000000-0000-4000-8000-000000000000')).code).toBe(404);
    expect((await status('anything', 31)).code).toBe(400);
  });
});

describe('the dead-letter queue', () => {
  it('runs maximumRetryAttempts: 0 once, then lists, filters, pages, gets and deletes it', async () => {
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push(await fire('once', { id: `once-${i}` }));
    await waitFor(async () => ((await (await fetch(`${base}/dlq?functionName=once`)).json()) as any).items.length === 5, 10_000, 'five entries');
    for (let i = 0; i < 5; i += 1) expect(runs(`once-${i}`)).toBe(1);

    // Pages of 2 across the whole DLQ, filtered to one function: every entry exactly once.
    const collected: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await (await fetch(`${base}/dlq?functionName=once&limit=2${cursor ? `&cursor=${cursor}` : ''}`)).json();
      expect(page.items.length).toBeLessThanOrEqual(2);
      collected.push(...page.items.map((item: any) => item.requestId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(collected.sort()).toEqual([...ids].sort());

    const one: any = await (await fetch(`${base}/dlq/${ids[0]}`)).json();
    expect(one).toMatchObject({
      requestId: ids[0],
      functionName: 'once',
      payload: { id: 'once-0' },
      attempts: 1,
      reason: 'RetriesExhausted',
      error: { errorMessage: 'no second chance' },
    });
    expect((await status(ids[0]!)).body).toMatchObject({ status: 'dead-lettered', reason: 'RetriesExhausted', attempts: 1 });

    expect((await fetch(`${base}/dlq/${ids[0]}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${base}/dlq/${ids[0]}`)).status).toBe(404);
    expect((await fetch(`${base}/dlq/${ids[0]}`, { method: 'DELETE' })).status).toBe(404);
    expect((await fetch(`${base}/dlq?cursor=garbage`)).status).toBe(400);
  });

  it('redrives one and all: fresh attempts, a link to the DLQ past, safe to repeat', async () => {
    const ids = [await fire('healer', { id: 'heal-a' }), await fire('healer', { id: 'heal-b' }), await fire('healer', { id: 'heal-c' })];
    await waitFor(async () => ((await (await fetch(`${base}/dlq?functionName=healer`)).json()) as any).items.length === 3, 15_000, 'three entries');
    fs.writeFileSync(path.join(markerDir, 'healed'), '');

    const redriveOne = await fetch(`${base}/dlq/${ids[0]}/redrive`, { method: 'POST' });
    expect(redriveOne.status).toBe(202);
    const healed = (await status(ids[0]!, 10)).body;
    expect(healed).toMatchObject({ status: 'succeeded', result: 'healed', attempts: 1 });
    expect(healed.redrives).toEqual([
      expect.objectContaining({ reason: 'RetriesExhausted', attempts: 3, error: { errorType: 'Error', errorMessage: 'still broken' } }),
    ]);
    expect((await fetch(`${base}/dlq/${ids[0]}/redrive`, { method: 'POST' })).status).toBe(404);

    const all: any = await (await fetch(`${base}/dlq/redrive`, { method: 'POST', body: JSON.stringify({ functionName: 'healer' }) })).json();
    expect(all).toMatchObject({ redriven: 2, redrives: [{ functionName: 'healer', total: 2 }] });
    // The entries go back in the background: the status URL says when all have.
    await waitFor(
      async () => ((await (await fetch(`${base}${all.redrives[0].statusUrl}`)).json()) as any).state === 'finished',
      10_000,
      'the redrive to finish',
    );
    for (const id of ids.slice(1)) expect((await status(id, 10)).body.status).toBe('succeeded');
    expect(((await (await fetch(`${base}/dlq/redrive`, { method: 'POST', body: '{"functionName":"healer"}' })).json()) as any).redriven).toBe(0);
    expect(runs('heal-a')).toBe(4);
  });
});

describe('Idempotency-Key', () => {
  it('the same key three times answers the first request id and runs once', async () => {
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push(await fire('counter', { id: 'idem' }, { 'Idempotency-Key': 'order-17' }));
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect((await status(ids[0]!, 10)).body).toMatchObject({ status: 'succeeded', result: 1 });
    await fire('counter', { id: 'idem' }, { 'Idempotency-Key': 'order-17' });
    expect(runs('idem')).toBe(1);
    // Another key (or another function) is another event.
    const other = await fire('counter', { id: 'idem' }, { 'Idempotency-Key': 'order-18' });
    expect(other).not.toBe(ids[0]);
    await status(other, 10);
    expect(runs('idem')).toBe(2);
  });
});
