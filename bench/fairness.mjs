// `npm run bench:fairness`: how long another function's lone event waits behind a 10,000-event
// burst. A real worker process (default INVOQ_WORKER_CONCURRENCY) drains a burst of 10 ms runs;
// while it does, lone events for a second function are sent one at a time, and each reports
// when its handler started. Target: every lone event starts within 100 ms. Loopback only.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EventProducer, EventQueues, closeRedis, createRedisConnection, waitForRedis } = require(path.join(root, 'packages/core/dist/index.js'));

const BURST = Number(process.env.FAIRNESS_BURST ?? 10_000);
const LONE_EVENTS = Number(process.env.FAIRNESS_LONE_EVENTS ?? 20);
const DEADLINE_MS = 300_000;
const work = mkdtempSync(path.join(tmpdir(), 'invoq-fairness-'));
const markers = path.join(work, 'starts');
mkdirSync(markers);
for (const [name, ms] of [
  ['burst', 10],
  ['lone', 0],
]) {
  mkdirSync(path.join(work, 'functions', name), { recursive: true });
  writeFileSync(path.join(work, 'functions', name, 'function.json'), JSON.stringify({ handler: 'index.handler' }));
  writeFileSync(
    path.join(work, 'functions', name, 'index.js'),
    `exports.handler = async () => { require('node:fs').appendFileSync('${markers}/${name}', Date.now() + '\\n'); await new Promise(r => setTimeout(r, ${ms})); };`,
  );
}
const starts = (name) => (existsSync(path.join(markers, name)) ? readFileSync(path.join(markers, name), 'utf8').trim().split('\n').map(Number) : []);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const began = Date.now();
async function until(check, what) {
  while (!check()) {
    if (Date.now() - began > DEADLINE_MS) throw new Error(`gave up waiting for ${what}`);
    await sleep(5);
  }
}

const redis = await startRedisServer({ aof: 'everysec' });
const connection = createRedisConnection(redis.url);
const queues = new EventQueues({ connection, prefix: 'bench', statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
const producer = new EventProducer(queues);
let worker;
try {
  await waitForRedis(connection);
  // The whole burst is queued before the worker starts, as after a spike or an outage.
  for (let i = 0; i < BURST; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, BURST - i) }, () => producer.enqueue('burst', randomUUID(), '{}')));
  }
  worker = fork(path.join(root, 'apps/worker/dist/main.js'), [], {
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      INVOQ_QUEUE_PREFIX: 'bench',
      INVOQ_FUNCTIONS_DIR: path.join(work, 'functions'),
      INVOQ_METRICS_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    },
    stdio: 'inherit',
  });
  await until(() => starts('burst').length >= 200, 'the burst to get going');

  const waits = [];
  for (let i = 0; i < LONE_EVENTS && starts('burst').length < BURST * 0.9; i++) {
    const sentAt = Date.now();
    await producer.enqueue('lone', randomUUID(), '{}');
    await until(() => starts('lone').length === i + 1, 'a lone event to start');
    waits.push(starts('lone')[i] - sentAt);
    await sleep(100);
  }
  const burstLeft = BURST - starts('burst').length;
  await until(() => starts('burst').length === BURST, 'the burst to finish');
  const drainSeconds = (Math.max(...starts('burst')) - Math.min(...starts('burst'))) / 1000;

  const sorted = [...waits].sort((a, b) => a - b);
  const result = {
    burst: BURST,
    burstRunsPerSec: Math.round(BURST / drainSeconds),
    loneEvents: waits.length,
    loneStartMs: { min: sorted[0], p50: sorted[Math.floor(sorted.length / 2)], max: sorted.at(-1) },
    burstStillQueuedAfterLastLone: burstLeft,
    withinTarget: sorted.at(-1) <= 100,
  };
  console.log(`node ${process.version}; lone-event waits (ms, send → handler start): ${waits.join(' ')}`);
  console.table([result.loneStartMs]);
  console.log(JSON.stringify(result));
  const out = path.join(root, 'bench', 'results', `fairness-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, ...result, waits }, null, 2));
  if (!result.withinTarget || waits.length === 0) process.exitCode = 1;
} finally {
  if (worker && worker.exitCode === null) {
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
  }
  await queues.close();
  await closeRedis(connection);
  await redis.stop();
}
