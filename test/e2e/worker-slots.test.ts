/**
 * INVOQ_WORKER_CONCURRENCY is one pool of slots shared by every function's queue: never more
 * runs at once than slots, and a backlog of one function does not hold back another's event.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { EventProducer, EventQueues, createRedisConnection, waitForRedis } from '@invoq/core';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-slots-'));
// Appends "<start> <end>" for each run to <markerDir>/<function>.
const timedRun = (name: string, ms: number) =>
  `exports.handler = async () => { const start = Date.now(); await new Promise(r => setTimeout(r, ${ms})); require('node:fs').appendFileSync('${path.join(markerDir, name)}', start + ' ' + Date.now() + '\\n'); };`;
const functionsDir = makeFunctionsDir({
  burst: { config: { handler: 'index.handler' }, files: { 'index.js': timedRun('burst', 60) } },
  lone: { config: { handler: 'index.handler' }, files: { 'index.js': timedRun('lone', 1) } },
});
const prefix = uniquePrefix('slots');
const connection = createRedisConnection(testRedisUrl());
const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 60, dlqRetentionSeconds: 60 });
const producer = new EventProducer(queues);
let worker: WorkerService;

beforeAll(async () => {
  await waitForRedis(connection);
  worker = await startWorker(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: prefix, INVOQ_WORKER_CONCURRENCY: '2' }), silentLogger());
});
afterAll(async () => {
  await worker?.close();
  await queues.close();
  await connection.quit();
});

const runs = (name: string): Array<[number, number]> =>
  fs.existsSync(path.join(markerDir, name))
    ? fs
        .readFileSync(path.join(markerDir, name), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' ').map(Number) as [number, number])
    : [];

it('runs at most INVOQ_WORKER_CONCURRENCY events at once, and serves a lone event in turn', async () => {
  const burstSize = 12;
  await Promise.all(Array.from({ length: burstSize }, () => producer.enqueue('burst', randomUUID(), '{}')));
  // Let the burst occupy both slots, then send one event for another function.
  await waitFor(() => runs('burst').length >= 1, 10_000, 'the burst to start');
  const loneSentAt = Date.now();
  await producer.enqueue('lone', randomUUID(), '{}');
  await waitFor(() => runs('burst').length === burstSize && runs('lone').length === 1, 20_000, 'all events');

  const all = [...runs('burst'), ...runs('lone')];
  const maxOverlap = Math.max(...all.map(([start]) => all.filter(([s, e]) => s <= start && start < e).length));
  expect(maxOverlap).toBeLessThanOrEqual(2);
  expect(maxOverlap).toBe(2);

  // Round-robin: the lone event takes the next free slot, not the back of the burst's line.
  const loneStart = runs('lone')[0]![0];
  const burstStartsAfterLone = runs('burst').filter(([start]) => start > loneStart).length;
  expect(burstStartsAfterLone).toBeGreaterThan(0);
  expect(loneStart - loneSentAt).toBeLessThan(1000);
  // Every slot comes back once the last job is recorded as completed.
  await waitFor(() => worker.slots.inUse === 0, 5000, 'all slots to be free');
});

it('drains two functions whose backlogs were queued before the worker started', async () => {
  // BullMQ fetches up to `concurrency` jobs per function before starting any: with every slot
  // held by fetched jobs of two functions, each waiting for one more slot, nothing ran at all.
  const backlogPrefix = uniquePrefix('slots-backlog');
  const backlogQueues = new EventQueues({ connection, prefix: backlogPrefix, statusRetentionSeconds: 60, dlqRetentionSeconds: 60 });
  const backlog = new EventProducer(backlogQueues);
  const before = { burst: runs('burst').length, lone: runs('lone').length };
  await Promise.all(['burst', 'lone'].flatMap((name) => Array.from({ length: 6 }, () => backlog.enqueue(name, randomUUID(), '{}'))));
  const second = await startWorker(
    testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: backlogPrefix, INVOQ_WORKER_CONCURRENCY: '2' }),
    silentLogger(),
  );
  try {
    await waitFor(() => runs('burst').length === before.burst + 6 && runs('lone').length === before.lone + 6, 20_000, 'both backlogs to drain');
  } finally {
    await second.close();
    await backlogQueues.close();
  }
});
