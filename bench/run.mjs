// `npm run bench`: invoq's hot paths beside the baselines a user would build by hand, measured
// in one run on this machine (ratios within one run are what to compare). Loopback only.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import { freePort, startRedisServer } from '../scripts/redis-server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const body = JSON.stringify({ hello: 'world', n: 42, items: [1, 2, 3] });

const children = [];
function start(script, env) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(root, script), [], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
    child.once('message', () => resolve(child));
  });
}

async function waitForHttp(url, deadlineMs = 15_000) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

async function measure(name, opts) {
  await autocannon({ ...opts, connections: CONNECTIONS, duration: WARMUP_S });
  const r = await autocannon({ ...opts, connections: CONNECTIONS, duration: DURATION_S });
  const errors = r.errors + r.timeouts + r.non2xx;
  return { name, reqPerSec: Math.round(r.requests.average), p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors };
}

const redis = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
try {
  const [barePort, toyPort, apiPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  await start('bench/bare-echo.mjs', { PORT: String(barePort) });
  await start('bench/toy-async.mjs', { PORT: String(toyPort), REDIS_URL: redis.url });
  const invoqEnv = { REDIS_URL: redis.url, PORT: String(apiPort), INVOQ_METRICS_PORT: String(metricsPort), INVOQ_QUEUE_PREFIX: 'bench' };
  const startInvoq = (script) => children.push(fork(path.join(root, script), [], { env: { ...process.env, LOG_LEVEL: 'warn', ...invoqEnv }, stdio: 'inherit' }));
  // The API alone first: enqueue is measured like the toy's, with no worker draining beside it.
  startInvoq('apps/api/dist/main.js');
  await waitForHttp(`http://127.0.0.1:${apiPort}/readyz`);

  const post = (url, headers = {}) => ({ url, method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const results = [];
  const bare = await measure('bare express echo', post(`http://127.0.0.1:${barePort}/echo`));
  results.push(bare);
  results.push(await measure('invoq sync invoke (echo)', post(`http://127.0.0.1:${apiPort}/2015-03-31/functions/echo/invocations`)));
  const toy = await measure('toy async (express + Queue.add)', post(`http://127.0.0.1:${toyPort}/event`));
  results.push(toy);
  results.push(await measure('invoq Event invoke (echo)', post(`http://127.0.0.1:${apiPort}/2015-03-31/functions/echo/invocations`, { 'x-amz-invocation-type': 'Event' })));

  // Then the worker drains the backlog the Event run left (every event accepted must run).
  const queue = new Queue('{echo}', { connection: { url: redis.url }, prefix: 'bench' });
  const backlog = (await queue.getJobCounts('waiting')).waiting;
  const drainStart = performance.now();
  startInvoq('apps/worker/dist/main.js');
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    if (counts.waiting + counts.active + counts.delayed === 0) {
      const seconds = (performance.now() - drainStart) / 1000;
      results.push({ name: `invoq worker drain (${backlog} events, incl. start)`, reqPerSec: Math.round(backlog / seconds), p50Ms: null, p99Ms: null, errors: counts.failed });
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await queue.close();

  const ratio = (a, b) => (a === null ? null : +(a / b).toFixed(2));
  const rows = results.map((r) => ({ ...r, vsBareEcho: r.p99Ms === null ? null : ratio(r.reqPerSec, bare.reqPerSec), p99VsBare: ratio(r.p99Ms, bare.p99Ms) }));
  console.log(`\n${CONNECTIONS} connections, ${WARMUP_S} s warm-up, ${DURATION_S} s measured, node ${process.version}`);
  console.table(rows);
  const out = path.join(root, 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, connections: CONNECTIONS, durationS: DURATION_S, rows }, null, 2));
  console.log(`written ${path.relative(root, out)}`);
  if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  await redis.stop();
}
