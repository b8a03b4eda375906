// `npm run bench:scaling`: how invoq's worker drain scales with worker processes (1, 2, 4),
// against one Redis and against a 3-master Redis Cluster (both AOF everysec), all on this
// machine. Events for several functions are queued first (the Cluster spreads functions over
// its masters by their hash tags), then N worker processes drain them; the rate runs from the
// first completion to an empty queue. Prints a table and writes JSON under bench/results/.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { freePort, startRedisCluster, startRedisServer } from '../scripts/local-redis.cjs';
import { cpuSeconds, rssMb } from './process-stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EventProducer, EventQueues, closeRedis, createRedisConnection, waitForRedis } = require(path.join(root, 'packages/core/dist/index.js'));

const EVENTS = Number(process.env.BENCH_EVENTS ?? 30_000);
const FUNCTIONS = Number(process.env.BENCH_FUNCTIONS ?? 6);
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);
const CONCURRENCY = 32; // INVOQ_WORKER_CONCURRENCY's default
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// No-op functions of our own, so every event costs the same.
const functionsDir = mkdtempSync(path.join(os.tmpdir(), 'invoq-scaling-'));
const names = Array.from({ length: FUNCTIONS }, (_, i) => `noop${i}`);
for (const name of names) {
  mkdirSync(path.join(functionsDir, name));
  writeFileSync(path.join(functionsDir, name, 'function.json'), JSON.stringify({ handler: 'index.handler' }));
  writeFileSync(path.join(functionsDir, name, 'index.js'), 'exports.handler = async (event) => event;');
}

/** Queues EVENTS events round-robin over the functions, 500 in flight. */
async function fill(queues) {
  const producer = new EventProducer(queues);
  let next = 0;
  await Promise.all(
    Array.from({ length: 500 }, async () => {
      while (next < EVENTS) {
        const i = next++;
        await producer.enqueue(names[i % names.length], randomUUID(), '{"hello":"world","n":42}');
      }
    }),
  );
}

async function counts(queues) {
  const all = await Promise.all(names.map((n) => queues.get(n).getJobCounts('waiting', 'active', 'completed', 'failed')));
  return all.reduce((sum, c) => ({ left: sum.left + c.waiting + c.active, completed: sum.completed + c.completed, failed: sum.failed + c.failed }), {
    left: 0,
    completed: 0,
    failed: 0,
  });
}

async function drain(target, env, workers, prefix, redisPids) {
  const connection = createRedisConnection(target);
  await waitForRedis(connection, 10_000);
  const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 3600, dlqRetentionSeconds: 3600 });
  await fill(queues);
  const children = [];
  const killAll = () => children.forEach((ch) => ch.kill('SIGKILL'));
  process.once('exit', killAll); // a failed run must not leave workers behind
  for (let i = 0; i < workers; i++) {
    children.push(
      fork(path.join(root, 'apps/worker/dist/main.js'), [], {
        env: {
          ...process.env,
          ...env,
          INVOQ_FUNCTIONS_DIR: functionsDir,
          INVOQ_QUEUE_PREFIX: prefix,
          INVOQ_WORKER_CONCURRENCY: String(CONCURRENCY),
          INVOQ_METRICS_PORT: String(await freePort()),
          LOG_LEVEL: 'info',
          NODE_ENV: 'production',
          INVOQ_API_KEYS: 'unused',
        },
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      }),
    );
  }
  let first;
  let maxRss = 0;
  const deadline = Date.now() + 300_000;
  for (;;) {
    const c = await counts(queues);
    maxRss = Math.max(maxRss, ...children.map((ch) => rssMb(ch.pid)));
    if (!first && c.completed > 0) {
      first = {
        at: performance.now(),
        completed: c.completed,
        workerCpu: children.reduce((n, ch) => n + cpuSeconds(ch.pid), 0),
        redisCpu: redisPids.reduce((n, pid) => n + cpuSeconds(pid), 0),
      };
    }
    if (first && c.left === 0) {
      const seconds = (performance.now() - first.at) / 1000;
      const perSec = Math.round((c.completed - first.completed) / seconds);
      // Cores busy while draining: where the CPU went (2 cores here, shared by all).
      const workerCores = +((children.reduce((n, ch) => n + cpuSeconds(ch.pid), 0) - first.workerCpu) / seconds).toFixed(2);
      const redisCores = +((redisPids.reduce((n, pid) => n + cpuSeconds(pid), 0) - first.redisCpu) / seconds).toFixed(2);
      await Promise.all(
        children.map(
          (ch) =>
            new Promise((resolve) => {
              ch.once('exit', resolve);
              ch.kill('SIGTERM');
            }),
        ),
      );
      process.off('exit', killAll);
      await queues.close();
      await closeRedis(connection);
      return { perSec, completed: c.completed, failed: c.failed, workerRssMaxMb: maxRss, workerCores, redisCores };
    }
    if (Date.now() > deadline) throw new Error(`drain did not finish: ${JSON.stringify(c)}`);
    await sleep(50);
  }
}

const rows = [];
const single = await startRedisServer({ aof: 'everysec' });
const cluster = await startRedisCluster({ aof: 'everysec' });
try {
  const targets = [
    { name: 'one Redis', target: single.url, env: { REDIS_URL: single.url }, pids: [single.pid] },
    {
      name: 'Redis Cluster (3 masters)',
      target: { kind: 'cluster', nodes: cluster.nodes.split(',').map((n) => ({ host: n.split(':')[0], port: Number(n.split(':')[1]) })) },
      env: { REDIS_CLUSTER_NODES: cluster.nodes },
      pids: cluster.servers.map((s) => s.pid),
    },
  ];
  // Interleaved (one Redis, then the Cluster, for each worker count): the machine drifts.
  for (const workers of WORKER_COUNTS) {
    for (const t of targets) {
      const r = await drain(t.target, t.env, workers, `scale${workers}${t.env.REDIS_URL ? 's' : 'c'}`, t.pids);
      rows.push({
        redis: t.name,
        workers,
        'events/s': r.perSec,
        events: r.completed,
        failed: r.failed,
        'worker RSS max MB': r.workerRssMaxMb,
        'worker cores': r.workerCores,
        'Redis cores': r.redisCores,
      });
      console.error(`${t.name}, ${workers} worker(s): ${r.perSec} events/s`);
    }
  }
} finally {
  await Promise.all([single.stop(), cluster.stop()]);
}
for (const t of new Set(rows.map((r) => r.redis))) {
  const base = rows.find((r) => r.redis === t && r.workers === 1)['events/s'];
  for (const r of rows.filter((r) => r.redis === t)) r['vs 1 worker'] = +(r['events/s'] / base).toFixed(2);
}
console.log(`${EVENTS} no-op events over ${FUNCTIONS} functions, concurrency ${CONCURRENCY} per worker, ${os.cpus().length} cores, node ${process.version}`);
console.table(rows);
mkdirSync(path.join(root, 'bench/results'), { recursive: true });
const file = path.join(root, `bench/results/scaling-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  JSON.stringify({ events: EVENTS, functions: FUNCTIONS, concurrency: CONCURRENCY, cores: os.cpus().length, node: process.version, rows }, null, 2),
);
console.log(`written ${path.relative(root, file)}`);
