/**
 * "202 means we have it": a worker SIGKILLed mid-run loses nothing (its events run again, with
 * no attempt spent), and Redis killed and restarted from its AOF still has every accepted event.
 * The big version (1,000 events) is `npm run load`'s crash scenario; this is the suite's small one.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { EventProducer, EventQueues, createRedisConnection, functionQueueName, waitForRedis } from '@invoq/core';
import { startApi } from '../../apps/api/src/api-service';
import { startWorker } from '../../apps/worker/src/worker-service';
import { freePort, makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';
import { OwnRedis, spawnTier, stopProcess } from '../support/processes';

const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-crash-'));
const functionsDir = makeFunctionsDir({
  patient: {
    // Marks that its run began (a fetched event may still wait for its environment, and a stop hands those back).
    config: { handler: 'index.handler', timeout: 10, environment: { MARKER_DIR: markerDir } },
    files: {
      'index.js': `exports.handler = async (event, context) => { require('node:fs').writeFileSync(require('node:path').join(process.env.MARKER_DIR, 'began-' + context.awsRequestId), ''); await new Promise(r => setTimeout(r, 1500)); return "finished"; };`,
    },
  },
  steady: {
    config: { handler: 'index.handler', environment: { MARKER_DIR: markerDir } },
    files: {
      'index.js': `exports.handler = async (event) => { await new Promise(r => setTimeout(r, 100)); require('node:fs').appendFileSync(require('node:path').join(process.env.MARKER_DIR, event.id), 'x'); };`,
    },
  },
});
const runsOf = (id: string) => (fs.existsSync(path.join(markerDir, id)) ? fs.readFileSync(path.join(markerDir, id), 'utf8').length : 0);

/** A producer and a view of one function's queue under a fresh prefix, as an API would have. */
function eventsOf(functionName: string, label: string) {
  const prefix = uniquePrefix(label);
  const connection = createRedisConnection(testRedisUrl());
  const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
  const queue = new Queue(functionQueueName(functionName), { connection: { url: testRedisUrl() }, prefix });
  return {
    prefix,
    producer: new EventProducer(queues),
    queue,
    ready: () => waitForRedis(connection),
    close: async () => {
      await queue.close();
      await queues.close();
      await connection.quit();
    },
  };
}

it('a worker killed with SIGKILL mid-stream loses nothing; the re-runs spend no attempt', async () => {
  const { prefix, producer, queue, ready, close } = eventsOf('steady', 'kill');
  const env = {
    REDIS_URL: testRedisUrl(),
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: prefix,
    INVOQ_METRICS_PORT: '0',
    INVOQ_WORKER_CONCURRENCY: '8',
  };
  const workers = [spawnTier('worker', env)];
  try {
    await ready();
    const ids = Array.from({ length: 120 }, () => randomUUID());
    for (const id of ids) await producer.enqueue('steady', id, JSON.stringify({ id }));
    await waitFor(async () => (await queue.getCompletedCount()) >= 20, 20_000, 'the first worker to make progress');
    await stopProcess(workers[0]!, 'SIGKILL');
    const activeAtKill = await queue.getActiveCount();
    const metricsPort = await freePort();
    workers.push(spawnTier('worker', { ...env, INVOQ_METRICS_PORT: String(metricsPort) }));

    // The dead worker's events come back after its locks lapse (~10 s) and run again.
    await waitFor(async () => (await queue.getCompletedCount()) === ids.length, 60_000, 'every event to complete');
    const runs = ids.map(runsOf);
    expect(runs.every((n) => n >= 1)).toBe(true);
    const reruns = runs.filter((n) => n > 1).length;
    expect(reruns).toBeLessThanOrEqual(activeAtKill);
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    // One attempt each: a re-run after a lost worker is not a failed attempt.
    expect(jobs.every((job) => job?.attemptsMade === 1)).toBe(true);
    expect(await queue.getFailedCount()).toBe(0);
    // Each event the dead worker held was handed back once, and counted so by the new worker.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^invoq_async_reruns_total\\{function="steady"\\} ${activeAtKill}$`, 'm'));
    console.log(`crash-safety: ${ids.length} events, worker SIGKILLed with ${activeAtKill} running; ${reruns} ran twice, none lost`);
  } finally {
    await Promise.all(workers.map((w) => stopProcess(w)));
    await close();
  }
}, 90_000);

it('Redis killed and restarted from its AOF still has every event that got 202', async () => {
  const redis = await OwnRedis.create(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-aof-')));
  await redis.start();
  const config = testConfig({ REDIS_URL: redis.url, INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: 'aof' });
  const api = await startApi(config, silentLogger());
  const accepted: string[] = [];
  try {
    for (let i = 0; i < 100; i += 1) {
      const res = await fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/steady/invocations`, {
        method: 'POST',
        headers: { 'x-amz-invocation-type': 'Event' },
        body: JSON.stringify({ id: `aof-${i}` }),
      });
      if (res.status === 202) accepted.push(res.headers.get('x-amzn-requestid')!);
    }
    expect(accepted).toHaveLength(100);
  } finally {
    await redis.kill();
    await api.close();
  }

  await redis.start();
  const queue = new Queue(functionQueueName('steady'), { connection: { url: redis.url }, prefix: 'aof' });
  const worker = await startWorker(config, silentLogger());
  try {
    expect(await queue.getJobCounts('waiting', 'active', 'completed').then((c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.completed ?? 0))).toBe(100);
    await waitFor(async () => (await queue.getCompletedCount()) === 100, 30_000, 'the worker to run every event');
    for (let i = 0; i < 100; i += 1) expect(runsOf(`aof-${i}`)).toBe(1);
  } finally {
    await worker.close();
    await queue.close();
    await redis.kill();
  }
}, 60_000);

it('SIGTERM: the worker takes nothing new, finishes what it runs, and exits 0', async () => {
  const { prefix, producer, queue, ready, close } = eventsOf('patient', 'term');
  const worker = spawnTier('worker', {
    REDIS_URL: testRedisUrl(),
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: prefix,
    INVOQ_METRICS_PORT: '0',
    INVOQ_WORKER_CONCURRENCY: '1',
  });
  try {
    await ready();
    const [first, second] = [randomUUID(), randomUUID()];
    await producer.enqueue('patient', first, '{}');
    await producer.enqueue('patient', second, '{}');
    await waitFor(
      async () => (await queue.getActiveCount()) === 1 && fs.existsSync(path.join(markerDir, `began-${first}`)),
      20_000,
      'the first event to start',
    );
    expect(await stopProcess(worker, 'SIGTERM')).toBe(0);
    expect(await (await queue.getJob(first))?.getState()).toBe('completed');
    expect(await (await queue.getJob(second))?.getState()).toBe('waiting');
  } finally {
    await stopProcess(worker, 'SIGKILL');
    await close();
  }
}, 60_000);
