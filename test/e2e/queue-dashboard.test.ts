/**
 * The queue dashboard (/admin/queues, bull-board) tells the truth: a busy, healthy queue is not
 * shown "rate limited"; a queue held behind an open circuit breaker is, for as long as the hold
 * lasts, and no longer. bull-board's page renders its JSON API (/admin/queues/api/queues), whose
 * `activeRateLimitTtl` alone decides the "rate limited Ns" badge. And an admin SigV4 key pair
 * opens the dashboard with Basic auth (the secret as the password).
 */
import fs from 'node:fs';
import path from 'node:path';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, uniquePrefix, waitFor } from '../support/harness';

const RESET_MS = 3000;
const functionsDir = makeFunctionsDir({
  steady: {
    config: { handler: 'index.handler' },
    files: { 'index.js': 'exports.handler = async (e) => { await new Promise((r) => setTimeout(r, 20)); return e; };' },
  },
  // Fails while its DOWN file exists; its breaker opens after two failures.
  flaky: {
    config: {
      handler: 'index.handler',
      async: { maximumRetryAttempts: 0 },
      circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 2, resetTimeoutMs: RESET_MS },
    },
    files: {
      'index.js':
        'exports.handler = async () => { if (require("node:fs").existsSync(require("node:path").join(__dirname, "DOWN"))) throw new Error("dependency down"); return "up"; };',
    },
  },
});
const downMarker = path.join(functionsDir, 'flaky', 'DOWN');
const user = { id: 'AKIDBOARDUSER', secret: 'board-user-secret' };
const admin = { id: 'AKIDBOARDADMIN', secret: 'board-admin-secret' };
let api: ApiService;
let worker: WorkerService;
let base: string;

beforeAll(async () => {
  const config = testConfig({
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: uniquePrefix('board'),
    INVOQ_API_KEYS: 'board-key',
    INVOQ_AWS_CREDENTIALS: `${user.id}:${user.secret},${admin.id}:${admin.secret}:admin`,
  });
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
});

const basic = (name: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${name}:${password}`).toString('base64')}` });
const asAdmin = basic(admin.id, admin.secret);

interface BoardQueue {
  name: string;
  activeRateLimitTtl: number;
  isPaused: boolean;
  counts: Record<string, number>;
}
async function boardQueue(name: string): Promise<BoardQueue> {
  const res = await fetch(`${base}/admin/queues/api/queues`, { headers: asAdmin });
  expect(res.status).toBe(200);
  const { queues } = (await res.json()) as { queues: BoardQueue[] };
  return queues.find((q) => q.name === `{${name}}`)!;
}
const sendEvent = (fn: string, body = '{}') =>
  fetch(`${base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { 'x-api-key': 'board-key', 'x-amz-invocation-type': 'Event' }, body });

describe('Basic auth on /admin/queues', () => {
  it('takes an admin access key id with its secret as the admin key it is', async () => {
    const page = await fetch(`${base}/admin/queues`, { headers: asAdmin });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('invoq queues');
    expect((await fetch(`${base}/admin/queues/api/queues`, { headers: asAdmin })).status).toBe(200);
    // It is that admin key everywhere, as its SigV4 signature would be.
    expect((await fetch(`${base}/dlq`, { headers: asAdmin })).status).toBe(200);
  });

  it('refuses a user key pair with the admin error, and a wrong secret', async () => {
    const asUser = await fetch(`${base}/admin/queues`, { headers: basic(user.id, user.secret) });
    expect([asUser.status, asUser.headers.get('x-amzn-errortype')]).toEqual([403, 'AccessDeniedException']);
    expect(((await asUser.json()) as { Message: string }).Message).toMatch(/admin key/);
    for (const headers of [basic(admin.id, `${admin.secret}x`), basic(admin.id, user.secret), basic('anyone', admin.secret), basic(admin.secret, admin.id)]) {
      const res = await fetch(`${base}/admin/queues`, { headers });
      expect([res.status, res.headers.get('x-amzn-errortype')]).toEqual([403, 'UnrecognizedClientException']);
    }
  });
});

describe('what the dashboard shows', () => {
  it('a busy, healthy queue is not rate limited', async () => {
    for (let i = 0; i < 20; i += 1) expect((await sendEvent('steady', `{"n":${i}}`)).status).toBe(202);
    // Read while events run and after: never shown held.
    const seen = await waitFor(
      async () => {
        const q = await boardQueue('steady');
        expect(q.activeRateLimitTtl).toBe(0);
        expect(q.isPaused).toBe(false);
        return q.counts.completed === 20 && q;
      },
      15_000,
      'the 20 events to complete',
    );
    expect(seen.activeRateLimitTtl).toBe(0);
    expect((await boardQueue('steady')).activeRateLimitTtl).toBe(0);
  });

  it('a queue held by an open breaker is shown held while the hold lasts, and not after', async () => {
    fs.writeFileSync(downMarker, '');
    try {
      // Two failures open the breaker; the next event a worker takes holds the queue.
      for (let i = 0; i < 2; i += 1) await sendEvent('flaky');
      await waitFor(async () => (await boardQueue('flaky')).counts.failed === 2, 10_000, 'two failures');
      await sendEvent('flaky');
      // The event goes back to wait just after the hold is set.
      const held = await waitFor(
        async () => {
          const q = await boardQueue('flaky');
          return q.activeRateLimitTtl > 0 && q.counts.waiting === 1 && q;
        },
        5_000,
        'the dashboard to show the hold, the event waiting under it',
      );
      expect(held.activeRateLimitTtl).toBeLessThanOrEqual(RESET_MS);
      // The dependency is back: the half-open trial runs the held event, the breaker closes.
      fs.rmSync(downMarker);
      await waitFor(async () => (await boardQueue('flaky')).counts.completed === 1, 10_000, 'the held event to run');
      expect((await boardQueue('flaky')).activeRateLimitTtl).toBe(0);
      // The steady queue was never held meanwhile.
      expect((await boardQueue('steady')).activeRateLimitTtl).toBe(0);
    } finally {
      fs.rmSync(downMarker, { force: true });
    }
  });
});
