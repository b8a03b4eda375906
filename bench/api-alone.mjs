// `npm run bench:api`: the API alone under autocannon (50 connections) on one invoke path, with
// what it costs: requests a second, p99, the API's CPU per request (from /proc) and its peak RSS.
// For A/B runs of one change (alternate with and without it; this machine drifts between runs).
//   API_BENCH_MODE=event|sync (default event), API_BENCH_DURATION_S (8), API_BENCH_NODE_FLAGS
//   (node flags for the API, e.g. "--heap-growing-percent=100", after those `npm start` gives it,
//   so they win). Its own Redis (AOF everysec).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';
import { cpuSeconds, rssPeaks, waitUntilReady } from './process-stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MODE = process.env.API_BENCH_MODE ?? 'event';
const DURATION_S = Number(process.env.API_BENCH_DURATION_S ?? 8);
const { serviceNodeFlags } = createRequire(import.meta.url)(path.join(root, 'packages/core/dist/index.js'));
const NODE_FLAGS = (process.env.API_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const KEY = 'bench-key';

if (!['event', 'sync'].includes(MODE)) throw new Error(`API_BENCH_MODE must be event or sync (got ${MODE})`);
const redis = await startRedisServer({ aof: 'everysec' });
let api;
try {
  const [port, metricsPort] = await Promise.all([freePort(), freePort()]);
  api = fork(path.join(root, 'apps/api/dist/main.js'), [], {
    execArgv: [...serviceNodeFlags(), ...NODE_FLAGS],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      PORT: String(port),
      INVOQ_METRICS_PORT: String(metricsPort),
      INVOQ_QUEUE_PREFIX: 'bench',
      INVOQ_API_KEYS: KEY,
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    },
  });
  await waitUntilReady(`http://127.0.0.1:${port}/readyz`, { what: 'the API' });
  const opts = {
    url: `http://127.0.0.1:${port}/2015-03-31/functions/echo/invocations`,
    method: 'POST',
    body: JSON.stringify({ hello: 'world', n: 42, items: [1, 2, 3] }),
    headers: { 'content-type': 'application/json', 'x-api-key': KEY, ...(MODE === 'event' ? { 'x-amz-invocation-type': 'Event' } : {}) },
    connections: 50,
  };
  await autocannon({ ...opts, duration: 3 }); // warm-up
  const rss = rssPeaks([api.pid], 200);
  const cpuBefore = cpuSeconds(api.pid);
  const r = await autocannon({ ...opts, duration: DURATION_S });
  const [peakRss] = rss.stop();
  const cpuPerRequestUs = ((cpuSeconds(api.pid) - cpuBefore) / r.requests.total) * 1e6;
  const errors = r.errors + r.timeouts + r.non2xx;
  console.log(
    `${MODE}${NODE_FLAGS.length ? ` (${NODE_FLAGS.join(' ')})` : ''}: ${Math.round(r.requests.average)} requests/s, p99 ${r.latency.p99} ms, ` +
      `API CPU ${Math.round(cpuPerRequestUs)} µs a request, API RSS at most ${peakRss} MB, ${errors} errors`,
  );
  if (errors > 0) process.exitCode = 1;
} finally {
  api?.kill('SIGTERM');
  if (api) await new Promise((resolve) => (api.exitCode === null ? api.once('exit', resolve) : resolve()));
  await redis.stop();
}
