// `npm run bench:crash`: the "nothing that got 202 is lost" scenario at full size. 1,000 events
// through the real API and worker processes; the worker is SIGKILLed part-way, then Redis is
// SIGKILLed and restarted from its AOF (appendfsync always), then a new worker finishes the job.
// Reports lost events (must be 0) and re-runs (at-least-once). Loopback only; bounded in time.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EVENTS = Number(process.env.CRASH_EVENTS ?? 1000);
const DEADLINE_MS = 180_000;
const work = mkdtempSync(path.join(tmpdir(), 'invoq-crash-'));
const markers = path.join(work, 'runs');
mkdirSync(markers);
const fnDir = path.join(work, 'functions', 'record');
mkdirSync(fnDir, { recursive: true });
writeFileSync(path.join(fnDir, 'function.json'), JSON.stringify({ handler: 'index.handler', environment: { MARKERS: markers } }));
writeFileSync(
  path.join(fnDir, 'index.js'),
  `exports.handler = async (event) => { await new Promise(r => setTimeout(r, 200)); require('node:fs').appendFileSync(process.env.MARKERS + '/' + event.n, 'x'); };`,
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const started = Date.now();
const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);
async function until(check, what) {
  while (!(await check())) {
    if (Date.now() - started > DEADLINE_MS) throw new Error(`gave up waiting for ${what}`);
    await sleep(100);
  }
}

const redisPort = await freePort();
const redisDir = path.join(work, 'redis');
mkdirSync(redisDir);
let redis;
// Same port and dir on restart: the AOF there is what must bring every accepted event back.
async function startRedis() {
  redis = await startRedisServer({ port: redisPort, dir: redisDir, aof: 'always', timeoutMs: 60_000 });
}

const [apiPort, metricsPort] = [await freePort(), await freePort()];
const env = {
  ...process.env,
  REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  PORT: String(apiPort),
  INVOQ_METRICS_PORT: String(metricsPort),
  INVOQ_FUNCTIONS_DIR: path.join(work, 'functions'),
  LOG_LEVEL: 'warn',
};
const tier = (name) => fork(path.join(root, `apps/${name}/dist/main.js`), [], { env, stdio: 'inherit' });
const children = [];
const queue = () => new Queue('{record}', { connection: { url: env.REDIS_URL }, prefix: 'invoq' });

try {
  await startRedis();
  children.push(tier('api'));
  let worker = tier('worker');
  children.push(worker);
  await until(async () => (await fetch(`http://127.0.0.1:${apiPort}/readyz`).catch(() => null))?.ok, 'the API');

  const accepted = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < EVENTS) {
        const n = next++;
        const res = await fetch(`http://127.0.0.1:${apiPort}/2015-03-31/functions/record/invocations`, {
          method: 'POST',
          headers: { 'x-amz-invocation-type': 'Event' },
          body: JSON.stringify({ n }),
        });
        if (res.status === 202) accepted.push(n);
      }
    }),
  );
  log(`${accepted.length} of ${EVENTS} events accepted with 202`);

  let q = queue();
  await until(async () => (await q.getCompletedCount()) >= EVENTS * 0.3, '30% done');
  worker.kill('SIGKILL');
  log(`worker SIGKILLed with ${await q.getCompletedCount()} completed, ${await q.getActiveCount()} running`);
  await q.close();
  await redis.kill();
  log('Redis SIGKILLed; restarting it from its AOF');
  await startRedis();
  worker = tier('worker');
  children.push(worker);
  await until(async () => (await fetch(`http://127.0.0.1:${metricsPort}/readyz`).catch(() => null))?.ok, 'the new worker');
  q = queue();
  await until(async () => (await q.getCompletedCount()) === accepted.length, 'every accepted event to complete');
  const runs = accepted.map((n) => (existsSync(`${markers}/${n}`) ? readFileSync(`${markers}/${n}`, 'utf8').length : 0));
  const lost = runs.filter((r) => r === 0).length;
  const reruns = runs.reduce((sum, r) => sum + Math.max(0, r - 1), 0);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const counted = /^invoq_async_reruns_total\{function="record"\} (\d+)/m.exec(metrics)?.[1];
  log(
    `all ${accepted.length} accepted events completed: ${lost} lost, ${reruns} extra runs (events run more than once); invoq_async_reruns_total on the new worker: ${counted}`,
  );
  await q.close();
  if (lost > 0) process.exitCode = 1;
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  await redis?.kill();
}
