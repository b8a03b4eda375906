// `npm run bench:drain`: invoq's worker draining no-op events beside a raw BullMQ worker of no-ops
// at the same concurrency, alone on one Redis (AOF everysec), in BENCH_DRAIN_ROUNDS (5)
// interleaved rounds of BENCH_DRAIN_JOBS (30,000): each round's rate, and what each job cost the
// worker's process and Redis in CPU (from /proc). The same rounds as `npm run bench`, without the
// HTTP tiers around them, for A/B runs of one change to the worker or the executor. The first
// rounds warm the worker up: compare the later ones. A third worker in each round is raw BullMQ
// again with invoq's job options (request-id job ids, retention, attempts and backoff, the hold
// limiter, the result kept): the part of the gap a hand-rolled worker with the same guarantees
// would pay too.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';
import { pausedDrain } from './drain-rounds.mjs';
import { cpuSeconds, rssPeaks, waitUntilReady } from './process-stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { EventProducer, EventQueues, closeRedis, createRedisConnection, serviceNodeFlags } = createRequire(import.meta.url)(
  path.join(root, 'packages/core/dist/index.js'),
);
const ROUNDS = Number(process.env.BENCH_DRAIN_ROUNDS ?? 5);
const JOBS = Number(process.env.BENCH_DRAIN_JOBS ?? 30_000);
const CONCURRENCY = 32; // INVOQ_WORKER_CONCURRENCY's default
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const body = JSON.stringify({ hello: 'world', n: 42 });

const redis = await startRedisServer({ aof: 'everysec' });
const children = [];
try {
  const rawWorker = fork(path.join(root, 'bench/raw-bullmq-worker.mjs'), [], {
    env: { ...process.env, REDIS_URL: redis.url, QUEUE: 'raw', PREFIX: '{bench-raw}', CONCURRENCY: String(CONCURRENCY) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(rawWorker);
  const optionedWorker = fork(path.join(root, 'bench/raw-bullmq-worker.mjs'), [], {
    env: { ...process.env, REDIS_URL: redis.url, QUEUE: '{optioned}', PREFIX: 'bench-optioned', CONCURRENCY: String(CONCURRENCY), WITH_INVOQ_OPTIONS: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(optionedWorker);
  await Promise.all([rawWorker, optionedWorker].map((child) => new Promise((resolve) => child.once('message', resolve))));
  const metricsPort = await freePort();
  // invoq at its defaults, as `npm run bench` runs it: auth on, metrics on, logs at info.
  const worker = fork(path.join(root, 'apps/worker/dist/main.js'), [], {
    execArgv: serviceNodeFlags(),
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      INVOQ_METRICS_PORT: String(metricsPort),
      INVOQ_QUEUE_PREFIX: 'bench',
      INVOQ_API_KEYS: 'bench-key',
      INVOQ_WORKER_CONCURRENCY: String(CONCURRENCY),
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(worker);
  await waitUntilReady(`http://127.0.0.1:${metricsPort}/readyz`, { what: 'the worker' });

  const raw = new Queue('raw', { connection: { url: redis.url }, prefix: '{bench-raw}' });
  const events = new Queue('{echo}', { connection: { url: redis.url }, prefix: 'bench' });
  const producerConnection = createRedisConnection(redis.url);
  const queueOptions = { connection: producerConnection, statusRetentionSeconds: 3600, dlqRetentionSeconds: 1_209_600 };
  const eventQueues = new EventQueues({ ...queueOptions, prefix: 'bench' });
  const producer = new EventProducer(eventQueues);
  // The third worker's jobs are enqueued as invoq's events are (the same job options, data and
  // queue settings), under a prefix of their own.
  const optionedQueues = new EventQueues({ ...queueOptions, prefix: 'bench-optioned' });
  const optionedProducer = new EventProducer(optionedQueues);
  const optioned = optionedQueues.get('optioned');
  /** One round, with the CPU its worker process and Redis spent per job while it drained. */
  const round = async (queue, add, pid) => {
    let cpuAtResume;
    const drain = await pausedDrain(queue, add, JOBS, {
      redis: producerConnection,
      onResume: () => (cpuAtResume = [cpuSeconds(pid), cpuSeconds(redis.pid)]),
    });
    const [workerUs, redisUs] = [pid, redis.pid].map((p, i) => Math.round(((cpuSeconds(p) - cpuAtResume[i]) * 1e6) / drain.jobs));
    return { perSec: Math.round(drain.perSec), failed: drain.failed, workerUs, redisUs };
  };
  const rss = rssPeaks([worker.pid]);
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const rawRound = await round(raw, () => raw.add('job', { hello: 'world', n: 42 }), rawWorker.pid);
    const optionedRound = await round(optioned, () => optionedProducer.enqueue('optioned', randomUUID(), body), optionedWorker.pid);
    const invoqRound = await round(events, () => producer.enqueue('echo', randomUUID(), body), worker.pid);
    rounds.push({
      raw: rawRound,
      optioned: optionedRound,
      invoq: invoqRound,
      ratio: +(invoqRound.perSec / rawRound.perSec).toFixed(2),
      optionedRatio: +(invoqRound.perSec / optionedRound.perSec).toFixed(2),
    });
  }
  const [workerRssMaxMb] = rss.stop();
  console.table(
    rounds.map((r, i) => ({
      round: i + 1,
      'raw per s': r.raw.perSec,
      'raw CPU µs/job (worker, Redis)': `${r.raw.workerUs}, ${r.raw.redisUs}`,
      'raw + options per s': r.optioned.perSec,
      'its CPU µs/job': `${r.optioned.workerUs}, ${r.optioned.redisUs}`,
      'invoq per s': r.invoq.perSec,
      'invoq CPU µs/job (worker, Redis)': `${r.invoq.workerUs}, ${r.invoq.redisUs}`,
      ratio: r.ratio,
      'ratio to raw + options': r.optionedRatio,
    })),
  );
  const medianRatio = median(rounds.map((r) => r.ratio));
  const medianOptionedRatio = median(rounds.map((r) => r.optionedRatio));
  console.log(
    `median ratio ${medianRatio.toFixed(2)} (to raw BullMQ with invoq's job options ${medianOptionedRatio.toFixed(2)}); invoq worker RSS at most ${workerRssMaxMb} MB; node ${process.version}`,
  );
  const out = path.join(root, 'bench', 'results', `drain-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { at: new Date().toISOString(), node: process.version, jobs: JOBS, concurrency: CONCURRENCY, rounds, medianRatio, medianOptionedRatio, workerRssMaxMb },
      null,
      2,
    ),
  );
  console.log(`written ${path.relative(root, out)}`);
  await Promise.all([raw.close(), events.close(), eventQueues.close(), optionedQueues.close()]);
  await closeRedis(producerConnection);
  if (rounds.some((r) => r.raw.failed + r.optioned.failed + r.invoq.failed > 0)) process.exitCode = 1;
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((resolve) => c.once('exit', resolve)) : null)));
  await redis.stop();
}
