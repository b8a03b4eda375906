/**
 * Bulk redrives against a real Redis, with no worker taking the redriven events (so where each
 * entry went can be read): the snapshot, entries that changed meanwhile, a runner that stopped
 * part-way, and a dead runner's lease.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { testRedisUrl, uniquePrefix, waitFor } from '../../../../test/support/harness';
import { DeadLetterStore } from './dead-letter-store';
import { EventQueues } from '../queue/event-queues';
import { InvocationStatusReader } from '../status/invocation-status';
import type { EventJobData } from '../queue/job-data';
import { functionQueueName } from '../queue/queue-names';
import { closeRedis, createRedisConnection } from '../redis/redis-connection';
import { RedriveRunner } from './redrive-runner';
import { RedriveStore } from './redrive-store';

const FN = 'broken';
const connection = createRedisConnection(testRedisUrl());
const opened: Array<{ queues: EventQueues; runners: RedriveRunner[] }> = [];
afterAll(async () => {
  for (const { queues, runners } of opened) {
    await Promise.all(runners.map((r) => r.close()));
    await queues.close();
  }
  await closeRedis(connection);
});

/** A fresh prefix: one function's queue, its DLQ and redrives, as one API would have them. */
function setUp() {
  const prefix = uniquePrefix('redrive-unit');
  const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
  const deadLetters = new DeadLetterStore(queues, () => [FN], new InvocationStatusReader(queues, () => [FN]));
  const store = new RedriveStore(queues, 600);
  const runners: RedriveRunner[] = [];
  opened.push({ queues, runners });
  const queue = queues.get(FN);
  return {
    prefix,
    queue,
    store,
    deadLetters,
    runner(options: { leaseMs?: number } = {}) {
      const runner = new RedriveRunner(store, deadLetters, () => [FN], { maxWaiting: 1000, scanEveryMs: 50, roomPollMs: 10, ...options });
      runners.push(runner);
      return runner;
    },
    /** Queues events and fails every waiting one into the DLQ, as a worker's last attempt does. */
    async deadLetter(count: number): Promise<string[]> {
      const ids = Array.from({ length: count }, () => randomUUID());
      for (const id of ids) await queue.add('event', { v: 1, payload: '{}', receivedAt: Date.now() }, { jobId: id });
      await failWaiting();
      return ids;
    },
    failWaiting,
    job: (id: string) => queue.getJob(id) as Promise<Job<EventJobData> | undefined>,
  };
  async function failWaiting(): Promise<void> {
    const workerConnection = createRedisConnection(testRedisUrl());
    const worker = new Worker(
      functionQueueName(FN),
      async () => {
        throw new UnrecoverableError('still broken');
      },
      { connection: workerConnection, prefix },
    );
    try {
      await waitFor(async () => (await queue.getWaitingCount()) === 0 && (await queue.getActiveCount()) === 0, 10_000, 'every waiting event to fail');
    } finally {
      await worker.close();
      await closeRedis(workerConnection);
    }
  }
}

const finished = (store: RedriveStore, redriveId: string) =>
  waitFor(
    async () => {
      const p = await store.get(redriveId);
      return p?.state === 'finished' && p;
    },
    10_000,
    'the redrive to finish',
  );
const redriveIdsOf = (job: Job<EventJobData> | undefined) => job?.data.redrives?.map((r) => r.redriveId ?? 'single');

it('redrives the snapshot: not what was dead-lettered after it; a second start while it runs takes nothing', async () => {
  const t = setUp();
  const ids = await t.deadLetter(3);
  const { redriveId, taken } = await t.store.start(FN);
  expect(taken).toBe(3);
  const [late] = await t.deadLetter(1);
  expect(await t.store.start(FN)).toEqual({ redriveId, taken: 0 });

  t.runner().start();
  expect(await finished(t.store, redriveId!)).toMatchObject({ functionName: FN, total: 3, done: 3, remaining: 0, skipped: 0 });
  for (const id of ids) {
    expect(await t.queue.getJobState(id)).toBe('waiting');
    expect(redriveIdsOf(await t.job(id))).toEqual([redriveId]);
  }
  expect(await t.queue.getJobState(late!)).toBe('failed');
  // Finished, the function's next redrive takes what is in its DLQ now.
  expect((await t.store.start(FN)).taken).toBe(1);
});

it('skips an entry deleted, redriven singly, or dead-lettered anew since the snapshot', async () => {
  const t = setUp();
  const [deleted, waiting, again, kept] = await t.deadLetter(4);
  const { redriveId } = await t.store.start(FN);
  // Single-entry calls find an event through its status; this store's reader knows FN.
  expect(await t.deadLetters.delete(deleted!)).toBe(true);
  expect(await t.deadLetters.redrive(again!)).toBe(true);
  await t.failWaiting();
  expect(await t.deadLetters.redrive(waiting!)).toBe(true);

  t.runner().start();
  expect(await finished(t.store, redriveId!)).toMatchObject({ total: 4, done: 4, skipped: 3 });
  expect(await t.job(deleted!)).toBeUndefined();
  expect(redriveIdsOf(await t.job(waiting!))).toEqual(['single']);
  expect(await t.queue.getJobState(again!)).toBe('failed');
  expect(redriveIdsOf(await t.job(again!))).toEqual(['single']);
  expect(await t.queue.getJobState(kept!)).toBe('waiting');
  expect(redriveIdsOf(await t.job(kept!))).toEqual([redriveId]);
});

it("a runner that stopped between an entry's record and its move, or before counting a move, leaves each moved once", async () => {
  const t = setUp();
  const [recorded, moved, untouched] = await t.deadLetter(3);
  const { redriveId } = await t.store.start(FN);
  const entries = await t.store.nextEntries(redriveId!, 10);
  const entry = (id: string) => entries.find((e) => e.id === id)!;
  // Stopped after the record: the redrive's past is written, the event is still dead-lettered.
  const job = (await t.job(recorded!))!;
  await job.updateData({
    ...job.data,
    redrives: [
      {
        redrivenAt: Date.now(),
        deadLetteredAt: job.finishedOn!,
        reason: 'RetriesExhausted',
        attempts: 1,
        error: { errorType: 'Error', errorMessage: 'still broken' },
        redriveId,
      },
    ],
  });
  // Stopped after the move, before the cursor: the event ran and failed again meanwhile.
  expect(await t.deadLetters.redriveSnapshotEntry(FN, entry(moved!), redriveId!)).toBe('moved');
  await t.failWaiting();

  t.runner().start();
  expect(await finished(t.store, redriveId!)).toMatchObject({ total: 3, done: 3, skipped: 0 });
  expect(await t.queue.getJobState(recorded!)).toBe('waiting');
  expect(redriveIdsOf(await t.job(recorded!))).toEqual([redriveId]);
  expect(await t.queue.getJobState(moved!)).toBe('failed');
  expect(redriveIdsOf(await t.job(moved!))).toEqual([redriveId]);
  expect(await t.queue.getJobState(untouched!)).toBe('waiting');
  expect(redriveIdsOf(await t.job(untouched!))).toEqual([redriveId]);
});

it("waits out a dead runner's lease, then one of two runners does the work, each entry once", async () => {
  const t = setUp();
  const ids = await t.deadLetter(40);
  const { redriveId } = await t.store.start(FN);
  // The lease of a runner that died: nobody renews it. While it holds, nobody else may claim it.
  const lease = `${t.prefix}:{${FN}}:redrive:lease`;
  await connection.set(lease, 'dead', 'PX', 60_000);
  expect(await t.store.claim(FN, 'another', 300)).toBe(false);
  const [a, b] = [t.runner({ leaseMs: 300 }), t.runner({ leaseMs: 300 })];
  a.start();
  b.start();
  await connection.pexpire(lease, 200); // as if its last renewal were almost a lease ago
  expect(await finished(t.store, redriveId!)).toMatchObject({ total: 40, done: 40, skipped: 0 });
  for (const id of ids) expect(redriveIdsOf(await t.job(id))).toEqual([redriveId]);
  expect(await t.queue.getWaitingCount()).toBe(40);
  await Promise.all([a.close(), b.close()]);
  expect(await connection.exists(lease, `${t.prefix}:{${FN}}:redrive:active`)).toBe(0);
});
