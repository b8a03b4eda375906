/**
 * The two ways an event leaves without its attempts running out: too old to run (Lambda's
 * EventAgeExceeded, including the look-ahead), and workers lost while running it (WorkerLost).
 * Events are put in the queue directly to give them an age the API would not.
 */
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { EVENT_JOB_NAME, EventQueues, createRedisConnection, functionQueueName, waitForRedis } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const functionsDir = makeFunctionsDir({
  hourly: { config: { handler: 'index.handler', async: { maximumEventAgeInSeconds: 3600 } }, files: { 'index.js': 'exports.handler = async () => "ran";' } },
  minute: {
    config: { handler: 'index.handler', circuitBreaker: false, async: { maximumEventAgeInSeconds: 60 } },
    files: { 'index.js': 'exports.handler = async () => { throw new Error("down"); };' },
  },
  steady: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => "ran";' } },
});
const prefix = uniquePrefix('age');
const connection = createRedisConnection(testRedisUrl());
const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
const raw = new IORedis(testRedisUrl());
let api: ApiService;
let worker: WorkerService;

beforeAll(async () => {
  await waitForRedis(connection);
  const config = testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: prefix, INVOQ_RETRY_BASE_DELAY_MS: '20000' });
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
  await queues.close();
  await connection.quit();
  raw.disconnect();
});

/** An event as the API stores it, but received `ageMs` ago. */
async function enqueueAged(fn: string, ageMs: number): Promise<string> {
  const id = randomUUID();
  await queues.get(fn).add(EVENT_JOB_NAME, { v: 1, payload: '{}', receivedAt: Date.now() - ageMs }, { jobId: id });
  return id;
}
const dlqEntry = (id: string) =>
  waitFor(
    async () => {
      const res = await fetch(`http://127.0.0.1:${api.port}/dlq/${id}`);
      return res.status === 200 && ((await res.json()) as Record<string, unknown>);
    },
    10_000,
    `${id} in the DLQ`,
  );
const workerMetrics = async () => (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();

it('does not run an event older than maximumEventAgeInSeconds: EventAgeExceeded, counted as dropped', async () => {
  const id = await enqueueAged('hourly', 2 * 3600 * 1000);
  expect(await dlqEntry(id)).toMatchObject({ reason: 'EventAgeExceeded', attempts: 1, error: { errorType: 'EventAgeExceeded' } });
  const metrics = await workerMetrics();
  expect(metrics).toMatch(/^invoq_async_events_dropped_total\{function="hourly",reason="EventAgeExceeded"\} 1$/m);
  expect(metrics).toMatch(/^invoq_invocations_total\{function="hourly",type="async"\} 0$/m);
});

it("counts a redriven event's age from its redrive, so an event too old to run runs once redriven", async () => {
  const id = await enqueueAged('hourly', 2 * 3600 * 1000);
  expect(await dlqEntry(id)).toMatchObject({ reason: 'EventAgeExceeded' });
  const redrive = await fetch(`http://127.0.0.1:${api.port}/dlq/${id}/redrive`, { method: 'POST' });
  expect(redrive.status).toBe(202);
  const status = (await (await fetch(`http://127.0.0.1:${api.port}/invocations/${id}?wait=10`)).json()) as Record<string, unknown>;
  expect(status).toMatchObject({ status: 'succeeded', result: 'ran', redrives: [expect.objectContaining({ reason: 'EventAgeExceeded' })] });
});

it('gives up at once when the next retry would start past the maximum age (look-ahead)', async () => {
  // 50 s old with a 60 s limit: attempt 1 runs at once and fails; the retry, 15–20 s later,
  // would start past the limit, so the event gives up now.
  const id = await enqueueAged('minute', 50_000);
  expect(await dlqEntry(id)).toMatchObject({ reason: 'EventAgeExceeded', attempts: 1, error: { errorMessage: 'down' } });
  expect(await workerMetrics()).toMatch(/^invoq_dead_letter_total\{function="minute",reason="EventAgeExceeded"\} 1$/m);
});

it('dead-letters an event whose workers were lost too often as WorkerLost', async () => {
  // What BullMQ's stalled check leaves on a job lost more than maxStalledCount times: the next
  // worker to take it fails it at once.
  const lost = randomUUID();
  const queue = new Queue(functionQueueName('steady'), { connection: { url: testRedisUrl() }, prefix });
  try {
    await queue.pause();
    await queues.get('steady').add(EVENT_JOB_NAME, { v: 1, payload: '{}', receivedAt: Date.now() }, { jobId: lost });
    await raw.hset(`${prefix}:{steady}:${lost}`, 'defa', 'job stalled more than allowable limit', 'stc', '3');
    await queue.resume();
  } finally {
    await queue.close();
  }
  expect(await dlqEntry(lost)).toMatchObject({ reason: 'WorkerLost' });
  expect(await workerMetrics()).toMatch(/^invoq_dead_letter_total\{function="steady",reason="WorkerLost"\} 1$/m);
});
