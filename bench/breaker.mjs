// `npm run bench:breaker`: what the circuit breaker costs and how fast an open one answers.
//   1. In-process: a closed breaker's cost per call (CircuitBreakers.run → opossum fire()) beside
//      calling the same async function directly.
//   2. Over HTTP: a real API process whose function's breaker is open; autocannon measures the
//      503 answers (target: p99 < 50 ms, with no call reaching the function). Loopback only.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';
import { waitUntilReady } from './process-stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { CircuitBreakers, loadFunctions } = require(path.join(root, 'packages/core/dist/index.js'));
const CALLS = Number(process.env.BENCH_CALLS ?? 200_000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

const functionsDir = mkdtempSync(path.join(tmpdir(), 'invoq-breaker-bench-'));
mkdirSync(path.join(functionsDir, 'down'));
writeFileSync(
  path.join(functionsDir, 'down', 'function.json'),
  JSON.stringify({ handler: 'index.handler', circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 3, resetTimeoutMs: 600_000 } }),
);
writeFileSync(path.join(functionsDir, 'down', 'index.js'), 'exports.handler = async () => { throw new Error("dependency down"); };');

// 1. Closed-breaker overhead, in-process.
const [fn] = loadFunctions(functionsDir);
const breakers = new CircuitBreakers({ onStateChange: () => {} });
const outcome = { result: 'ok' };
const run = async () => outcome;
async function nsPerCall(call) {
  for (let i = 0; i < 20_000; i++) await call(); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  return Number(process.hrtime.bigint() - start) / CALLS;
}
const direct = [],
  viaBreaker = [];
for (let round = 0; round < 5; round++) {
  // interleaved, so drift hits both alike
  direct.push(await nsPerCall(run));
  viaBreaker.push(await nsPerCall(() => breakers.run(fn, run)));
}
breakers.shutdown();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const overheadNs = Math.round(median(viaBreaker) - median(direct));
console.log(
  `closed breaker: ${Math.round(median(viaBreaker))} ns/call vs ${Math.round(median(direct))} ns direct → ${overheadNs} ns (${(overheadNs / 1000).toFixed(2)} µs) per sync invoke`,
);

// 2. Open-breaker answers over HTTP.
const redis = await startRedisServer();
const port = await freePort();
const api = fork(path.join(root, 'apps/api/dist/main.js'), [], {
  env: {
    ...process.env,
    REDIS_URL: redis.url,
    PORT: String(port),
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_AUTH: 'off',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
  },
  stdio: 'inherit',
});
try {
  const url = `http://127.0.0.1:${port}/2015-03-31/functions/down/invocations`;
  await waitUntilReady(`http://127.0.0.1:${port}/readyz`, { what: 'the API', timeoutMs: 15_000 });
  for (let i = 0; i < 3; i++) await fetch(url, { method: 'POST', body: '{}' });
  const first = await fetch(url, { method: 'POST', body: '{}' });
  if (first.status !== 503) throw new Error(`expected the breaker to be open (503), got ${first.status}`);
  const opts = { url, method: 'POST', body: '{}', connections: CONNECTIONS };
  await autocannon({ ...opts, duration: 2 });
  const r = await autocannon({ ...opts, duration: DURATION_S });
  const row = {
    reqPerSec: Math.round(r.requests.average),
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    answered503: r['5xx'],
    other: r['2xx'] + r['4xx'] + r.errors + r.timeouts,
  };
  console.log(`open breaker over HTTP, ${CONNECTIONS} connections, ${DURATION_S} s, node ${process.version}:`);
  console.table([row]);
  const result = {
    at: new Date().toISOString(),
    node: process.version,
    closedOverheadNs: overheadNs,
    directNs: median(direct),
    viaBreakerNs: median(viaBreaker),
    open: row,
    withinTarget: row.p99Ms < 50 && row.other === 0,
  };
  const out = path.join(root, 'bench', 'results', `breaker-${result.at.replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2));
  console.log(JSON.stringify(result));
  if (!result.withinTarget) process.exitCode = 1;
} finally {
  api.kill('SIGTERM');
  if (api.exitCode === null) await new Promise((r) => api.once('exit', r));
  await redis.stop();
}
