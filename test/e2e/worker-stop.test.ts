/**
 * A worker holds only events it can start, and a stop starts nothing new: with more slots than
 * environments (INVOQ_WORKER_CONCURRENCY 4, INVOQ_MAX_ENVIRONMENTS 2) and long runs, it fetches
 * no more than it runs plus the one waiting for the next environment; status says `running` only
 * for what runs; on SIGTERM it hands back what has not started (another worker runs it), lets
 * the started runs end, and exits without starting a second wave.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { EventProducer, EventQueues, InvocationStatusReader, createRedisConnection, functionQueueName, waitForRedis } from '@invoq/core';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';
import { spawnTier, stopProcess } from '../support/processes';

const RUN_MS = 3000;
const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-stop-'));
// One line when a run starts and one when it ends: "<requestId> <pid> start|end <ms>".
const functionsDir = makeFunctionsDir({
  long: {
    config: { handler: 'index.handler', timeout: 30, environment: { MARKER: path.join(markerDir, 'runs') } },
    files: {
      'index.js': `const fs = require('node:fs');
exports.handler = async (event, context) => {
  const line = (what) => fs.appendFileSync(process.env.MARKER, context.awsRequestId + ' ' + process.pid + ' ' + what + ' ' + Date.now() + '\\n');
  line('start');
  await new Promise((r) => setTimeout(r, ${RUN_MS}));
  line('end');
};`,
    },
  },
});

interface RunMark {
  id: string;
  pid: number;
  what: 'start' | 'end';
  at: number;
}
const marks = (): RunMark[] =>
  fs.existsSync(path.join(markerDir, 'runs'))
    ? fs
        .readFileSync(path.join(markerDir, 'runs'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const [id, pid, what, at] = l.split(' ');
          return { id: id!, pid: Number(pid), what: what as RunMark['what'], at: Number(at) };
        })
    : [];
const starts = (ids: string[]) => marks().filter((m) => m.what === 'start' && ids.includes(m.id));

/** Events of `long` under a fresh prefix, with a raw view of its queue and the status reader. */
function eventsUnder(label: string) {
  const prefix = uniquePrefix(label);
  const connection = createRedisConnection(testRedisUrl());
  const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
  const queue = new Queue(functionQueueName('long'), { connection: { url: testRedisUrl() }, prefix });
  const status = new InvocationStatusReader(queues, () => ['long']);
  const producer = new EventProducer(queues);
  return {
    prefix,
    queue,
    status,
    send: async (n: number) => {
      const ids: string[] = Array.from({ length: n }, () => randomUUID());
      for (const id of ids) await producer.enqueue('long', id, '{}');
      return ids;
    },
    ready: () => waitForRedis(connection),
    close: async () => {
      await queue.close();
      await queues.close();
      await connection.quit();
    },
  };
}

const workerEnv = (prefix: string) => ({
  INVOQ_FUNCTIONS_DIR: functionsDir,
  INVOQ_QUEUE_PREFIX: prefix,
  INVOQ_MAX_ENVIRONMENTS: '2',
  INVOQ_WORKER_CONCURRENCY: '4',
});

it('holds no more events than it runs plus one waiting for an environment, and says running only for those that run', async () => {
  const events = eventsUnder('stop-status');
  let worker: WorkerService | undefined;
  try {
    await events.ready();
    const ids = await events.send(6);
    worker = await startWorker(testConfig(workerEnv(events.prefix)), silentLogger());
    await waitFor(() => starts(ids).length === 2, 15_000, 'two runs to start');
    // The first wave runs for RUN_MS: meanwhile what the worker holds, and what status says.
    let maxHeld = 0;
    const seen = await waitFor(
      async () => {
        const active = (await events.queue.getActive()).map((j) => j.id!);
        maxHeld = Math.max(maxHeld, active.length);
        const statuses = await Promise.all(ids.map(async (id) => [id, (await events.status.status(id))?.status] as const));
        const running = statuses
          .filter(([, s]) => s === 'running')
          .map(([id]) => id)
          .sort();
        const started = starts(ids)
          .map((m) => m.id)
          .sort();
        const settled = active.length === 3 && JSON.stringify(running) === JSON.stringify(started);
        return settled && { active, running, started, statuses };
      },
      RUN_MS - 500,
      'status to say running for exactly the started runs, with one more event held',
    ).catch((e: Error) => {
      throw new Error(`${e.message} (held at most ${maxHeld} events)`);
    });
    expect(seen.running).toHaveLength(2);
    expect(maxHeld).toBeLessThanOrEqual(3);
    // The held one that waits for an environment reads as queued, with no attempt running.
    const waiting = seen.active.find((id) => !seen.started.includes(id))!;
    expect(await events.status.status(waiting)).toMatchObject({ status: 'queued', attempts: 0, history: [] });
    // Then it runs, and so does the rest, no more than two at a time.
    await waitFor(async () => (await events.queue.getCompletedCount()) === ids.length, 30_000, 'every event to complete');
    const runsPerId = ids.map((id) => starts([id]).length);
    expect(runsPerId).toEqual(ids.map(() => 1));
  } finally {
    await worker?.close();
    await events.close();
  }
}, 60_000);

it('on SIGTERM hands back what has not started, lets started runs end, and exits without starting more', async () => {
  const events = eventsUnder('stop-sigterm');
  const first = spawnTier('worker', { REDIS_URL: testRedisUrl(), INVOQ_METRICS_PORT: '0', ...workerEnv(events.prefix) });
  let second: WorkerService | undefined;
  try {
    await events.ready();
    const ids = await events.send(4);
    const firstPid = first.pid!;
    await waitFor(
      async () => starts(ids).filter((m) => m.pid === firstPid).length === 2 && (await events.queue.getActiveCount()) >= 3,
      20_000,
      'the first worker to run two events and hold a third',
    );
    // An idle second worker with room to spare.
    second = await startWorker(
      testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: events.prefix, INVOQ_MAX_ENVIRONMENTS: '4', INVOQ_WORKER_CONCURRENCY: '4' }),
      silentLogger(),
    );
    const stoppedAt = Date.now();
    const exitCode = await stopProcess(first, 'SIGTERM');
    const atExit = marks().filter((m) => ids.includes(m.id));
    await waitFor(async () => (await events.queue.getCompletedCount()) === ids.length, 30_000, 'every event to complete');

    expect(exitCode).toBe(0);
    const firstStarts = starts(ids).filter((m) => m.pid === firstPid);
    // The first worker ran only what it had started before the stop, and waited for those runs.
    expect(firstStarts).toHaveLength(2);
    expect(firstStarts.every((m) => m.at < stoppedAt)).toBe(true);
    for (const run of firstStarts) expect(atExit).toContainEqual(expect.objectContaining({ id: run.id, pid: firstPid, what: 'end' }));
    // The rest, the handed-back one among them, ran on the second worker; nothing ran twice.
    expect(starts(ids).filter((m) => m.pid === process.pid)).toHaveLength(2);
    expect(ids.map((id) => starts([id]).length)).toEqual([1, 1, 1, 1]);
    // A hand-back is neither a failed attempt nor a stall.
    const jobs = await Promise.all(ids.map((id) => events.queue.getJob(id)));
    expect(jobs.map((j) => [j?.attemptsMade, j?.stalledCounter])).toEqual(ids.map(() => [1, 0]));
  } finally {
    await stopProcess(first, 'SIGKILL');
    await second?.close();
    await events.close();
  }
}, 90_000);
