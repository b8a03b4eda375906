// `npm run bench:executor`: what the execution environment costs per invoke of a no-op handler,
// beside calling the same handler directly in-process, and what a cold start costs.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Executor, loadFunctions } = require(path.join(root, 'packages/core/dist/index.js'));

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const fns = new Map(loadFunctions(path.join(root, 'functions')).map((f) => [f.name, f]));
const echo = fns.get('echo');
const slow = { ...fns.get('slow'), timeoutMs: 5000 };
const payload = JSON.stringify({ hello: 'world', n: 42 });

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
function summary(samplesMs) {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}
const us = (ms) => Math.round(ms * 1000);

// Direct: what a hand-rolled in-process call costs (parse in, handler, serialise out).
const { handler } = require(echo.handlerFile);
const direct = [];
for (let i = 0; i < CALLS + 2000; i += 1) {
  const t = performance.now();
  JSON.stringify(await handler(JSON.parse(payload)));
  if (i >= 2000) direct.push(performance.now() - t);
}

const executor = new Executor({ maxEnvironments: 16 });
const viaExecutor = [];
for (let i = 0; i < CALLS + 2000; i += 1) {
  const t = performance.now();
  await executor.invoke(echo, { requestId: `r${i}`, payload });
  if (i >= 2000) viaExecutor.push(performance.now() - t);
}

// Throughput with many calls in flight (as under HTTP load), and how many threads it used.
const inFlightStart = performance.now();
await Promise.all(Array.from({ length: CALLS }, (_, i) => executor.invoke(echo, { requestId: `p${i}`, payload })));
const inFlightPerSec = Math.round(CALLS / ((performance.now() - inFlightStart) / 1000));
const threadsForNoops = executor.environmentCount;

// 32 calls in flight at all times (a worker's default concurrency), with runs queued behind
// each other in busy environments (the default) and without (runsPerEnvironment 1).
// Interleaved rounds, medians: this machine's speed drifts between rounds.
async function keepInFlight(exec, calls, width) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < calls) {
        next += 1;
        await exec.invoke(echo, { requestId: `k${next}`, payload });
      }
    }),
  );
  return Math.round(calls / ((performance.now() - started) / 1000));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const queueing = { on: new Executor({ maxEnvironments: 16 }), off: new Executor({ maxEnvironments: 16, runsPerEnvironment: 1 }) };
const perSec = { on: [], off: [] };
for (const exec of Object.values(queueing)) await keepInFlight(exec, 2000, 32);
for (let round = 0; round < 5; round += 1) {
  for (const mode of ['off', 'on']) perSec[mode].push(await keepInFlight(queueing[mode], CALLS / 2, 32));
}
const queueingThreads = { on: queueing.on.environmentCount, off: queueing.off.environmentCount };
await Promise.all(Object.values(queueing).map((exec) => exec.close()));

// Sixteen calls that each wait 300 ms: they must overlap.
const waitStart = performance.now();
await Promise.all(Array.from({ length: 16 }, (_, i) => executor.invoke(slow, { requestId: `w${i}`, payload: '{"ms":300}' })));
const sixteenWaitsMs = Math.round(performance.now() - waitStart);
await executor.close();

// Sixteen calls that each compute 100 ms, as the API runs them (one unconditional environment):
// they should spread over the cores, and none be refused with the API's 1 s wait.
const spinDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-bench-spin-'));
fs.mkdirSync(path.join(spinDir, 'spin'));
fs.writeFileSync(path.join(spinDir, 'spin', 'function.json'), JSON.stringify({ handler: 'index.handler', timeout: 30 }));
fs.writeFileSync(
  path.join(spinDir, 'spin', 'index.js'),
  'exports.handler = async (e) => { const until = Date.now() + e.ms; while (Date.now() < until) {} return require("node:worker_threads").threadId; };',
);
const spin = loadFunctions(spinDir)[0];
const computing = new Executor({ unconditionalEnvironments: 1 });
await computing.invoke(spin, { requestId: 'warm', payload: '{"ms":20}' });
const computeStart = performance.now();
const computed = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => computing.invoke(spin, { requestId: `s${i}`, payload: '{"ms":100}' }, 1000)));
const sixteenComputeMs = Math.round(performance.now() - computeStart);
const computeThreads = new Set(computed.flatMap((r) => (r.status === 'fulfilled' ? [r.value.body] : []))).size;
const computeRefused = computed.filter((r) => r.status === 'rejected').length;
await computing.close();
fs.rmSync(spinDir, { recursive: true, force: true });

// Cold start: a new environment's first call (thread start + module load + the call).
const cold = [];
for (let i = 0; i < 20; i += 1) {
  const fresh = new Executor();
  const t = performance.now();
  await fresh.invoke(echo, { requestId: `c${i}`, payload });
  cold.push(performance.now() - t);
  await fresh.close();
}

const d = summary(direct);
const e = summary(viaExecutor);
const c = summary(cold);
console.log(`node ${process.version}, ${CALLS} sequential calls after 2000 warm-up`);
console.table([
  { what: 'direct in-process call (µs)', p50: us(d.p50), p99: us(d.p99) },
  { what: 'executor.invoke, warm (µs)', p50: us(e.p50), p99: us(e.p99) },
  { what: 'executor overhead per call (µs)', p50: us(e.p50 - d.p50), p99: us(e.p99 - d.p99) },
  { what: 'cold start, first call (ms)', p50: +c.p50.toFixed(1), p99: +c.p99.toFixed(1) },
]);
console.log(`${CALLS} no-op calls in flight at once: ${inFlightPerSec} calls/s on ${threadsForNoops} thread(s)`);
console.log(
  `32 calls in flight, runs queued in busy environments: ${median(perSec.on)} calls/s on ${queueingThreads.on} thread(s); one run per environment: ${median(perSec.off)} calls/s on ${queueingThreads.off} (medians of 5 interleaved rounds: ${perSec.on.join(', ')} vs ${perSec.off.join(', ')})`,
);
console.log(`16 parallel calls waiting 300 ms each: ${sixteenWaitsMs} ms in all`);
console.log(
  `16 parallel calls computing 100 ms each (${os.availableParallelism()} cores): ${sixteenComputeMs} ms in all on ${computeThreads} thread(s), ${computeRefused} refused`,
);
