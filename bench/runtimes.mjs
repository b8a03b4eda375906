// `npm run bench:runtimes`: what each kind of execution environment costs, through the built
// core's Executor directly (no Redis, no HTTP): a Node function in a worker thread, the same
// function as a process (`isolation: "process"`), a Python function (the host's python3) and a
// custom runtime (Lambda's bash tutorial, curl per request), in each sandbox this host gives
// (`none`, and `bubblewrap` when bwrap works). Per function and sandbox:
//   cold: a fresh Executor's first invoke (the environment started, the handler loaded, one
//         no-op call), RUNTIMES_COLD times (default 7), median and max;
//   warm: RUNTIMES_CALLS sequential no-op calls (default 300) on one environment, after
//         RUNTIMES_WARMUP unmeasured ones (default 500: a Node runtime's JIT is still compiling
//         its HTTP and JSON paths over the first few hundred), median and p99 latency and calls/s;
//   side by side: a warm Node.js process against a warm thread, RUNTIMES_ROUNDS interleaved
//         rounds (default 5) of RUNTIMES_CALLS calls each, the median of per-round p50 ratios.
// Prints a table; JSON under bench/results/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { Executor, loadFunctions } = require(path.join(root, 'packages/core/dist/index.js'));
const { resolveSandbox } = require(path.join(root, 'packages/core/dist/execution/sandbox.js'));

const COLD = Number(process.env.RUNTIMES_COLD ?? 7);
const CALLS = Number(process.env.RUNTIMES_CALLS ?? 300);
const WARMUP = Number(process.env.RUNTIMES_WARMUP ?? 500);
const ROUNDS = Number(process.env.RUNTIMES_ROUNDS ?? 5);
const payload = JSON.stringify({ hello: 'world', n: 42 });

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (xs) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const ms = (x) => (x < 10 ? x.toFixed(2) : x.toFixed(1));

// ---- The functions: one folder each, loaded as function.json folders are.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-bench-runtimes-'));
function writeFunction(name, config, files) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'function.json'), JSON.stringify({ timeout: 10, ...config }));
  for (const [file, [text, mode]] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text, { mode: mode ?? 0o644 });
}
const nodeHandler = 'exports.handler = async (event) => ({ ok: true, n: event.n });\n';
writeFunction('node-thread', { handler: 'index.handler' }, { 'index.js': [nodeHandler] });
writeFunction('node-process', { handler: 'index.handler', isolation: 'process' }, { 'index.js': [nodeHandler] });
writeFunction(
  'python',
  { handler: 'app.handler', runtime: 'python3.12' },
  { 'app.py': ['def handler(event, context):\n    return {"ok": True, "n": event["n"]}\n'] },
);
const hasCurl = fs.existsSync('/usr/bin/curl');
if (hasCurl) {
  const API = 'http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime';
  writeFunction(
    'bash-custom',
    { runtime: 'provided.al2023', handler: 'function.handler' },
    {
      bootstrap: [
        `#!/bin/bash
set -euo pipefail
HEADERS="$(mktemp)"
while true; do
  EVENT=$(curl -sS -LD "$HEADERS" "${API}/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS "${API}/invocation/$REQUEST_ID/response" -d '{"ok":true}' >/dev/null
done
`,
        0o755,
      ],
    },
  );
}
const fns = new Map(loadFunctions(work).map((f) => [f.name, f]));

// ---- The sandboxes this host gives.
const sandboxes = [['none', { kind: 'none' }]];
const auto = resolveSandbox('auto');
if (auto.sandbox.kind === 'bubblewrap') sandboxes.push(['bubblewrap', auto.sandbox]);
else console.log(`bubblewrap not measured: ${auto.notice}`);

async function invokeOk(executor, fn, requestId) {
  const outcome = await executor.invoke(fn, { requestId, payload });
  if (outcome.functionError) throw new Error(`${fn.name}: ${outcome.body}\n${outcome.logs.join('\n')}`);
  return outcome;
}

/** `count` sequential calls of `fn`: each call's latency in ms. */
async function timedCalls(executor, fn, count, label) {
  const latencies = [];
  for (let i = 0; i < count; i += 1) {
    const t = performance.now();
    await invokeOk(executor, fn, `${label}-${i}`);
    latencies.push(performance.now() - t);
  }
  return latencies;
}

async function measure(fn, sandbox) {
  const cold = [];
  for (let i = 0; i < COLD; i += 1) {
    const executor = new Executor({ sandbox, maxEnvironments: 1 });
    const t = performance.now();
    await invokeOk(executor, fn, `cold-${i}`);
    cold.push(performance.now() - t);
    await executor.close();
  }
  const executor = new Executor({ sandbox, maxEnvironments: 1 });
  for (let i = 0; i < WARMUP; i += 1) await invokeOk(executor, fn, `warmup-${i}`);
  const started = performance.now();
  const warm = await timedCalls(executor, fn, CALLS, 'warm');
  const perSec = CALLS / ((performance.now() - started) / 1000);
  await executor.close();
  const sorted = [...warm].sort((a, b) => a - b);
  return {
    coldMedianMs: median(cold),
    coldMaxMs: Math.max(...cold),
    warmMedianMs: percentile(sorted, 50),
    warmP99Ms: percentile(sorted, 99),
    callsPerSec: Math.round(perSec),
    cold,
  };
}

const pythonVersion = (() => {
  try {
    return execFileSync('python3', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return 'no python3';
  }
})();

/**
 * A warm Node.js process against a warm thread, side by side: one warm environment of each,
 * RUNTIMES_ROUNDS rounds (default 5) of CALLS sequential calls on each in turn, so the machine's
 * drift hits both alike; per round the ratio of their p50s, and the median of those ratios.
 */
async function processAgainstThread(sandbox) {
  const kinds = [fns.get('node-thread'), fns.get('node-process')].map((fn) => ({ fn, executor: new Executor({ sandbox, maxEnvironments: 1 }), p50s: [] }));
  try {
    for (const { fn, executor } of kinds) for (let i = 0; i < WARMUP; i += 1) await invokeOk(executor, fn, `warmup-${i}`);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const kind of kinds) kind.p50s.push(median(await timedCalls(kind.executor, kind.fn, CALLS, `round-${round}`)));
    }
  } finally {
    for (const { executor } of kinds) await executor.close();
  }
  const [thread, processEnv] = kinds;
  const ratios = processEnv.p50s.map((p50, i) => p50 / thread.p50s[i]);
  return { threadP50Ms: median(thread.p50s), processP50Ms: median(processEnv.p50s), ratio: median(ratios), ratios };
}

const rows = [];
const sideBySide = [];
try {
  for (const name of ['node-thread', 'node-process', 'python', 'bash-custom']) {
    const fn = fns.get(name);
    if (!fn) continue;
    // A thread is not sandboxed: one row for it.
    for (const [label, sandbox] of name === 'node-thread' ? [['(thread)', { kind: 'none' }]] : sandboxes) {
      rows.push({ function: name, sandbox: label, ...(await measure(fn, sandbox)) });
    }
  }
  for (const [label, sandbox] of sandboxes) sideBySide.push({ sandbox: label, ...(await processAgainstThread(sandbox)) });
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}

console.log(
  `\nnode ${process.version}, ${pythonVersion}, ${os.availableParallelism()} cores, load ${os.loadavg()[0].toFixed(1)}; cold ×${COLD}, warm ×${CALLS} sequential on 1 environment\n`,
);
const header = ['function', 'sandbox', 'cold median ms', 'cold max ms', 'warm p50 ms', 'warm p99 ms', 'calls/s'];
const table = [
  header,
  ...rows.map((r) => [r.function, r.sandbox, ms(r.coldMedianMs), ms(r.coldMaxMs), ms(r.warmMedianMs), ms(r.warmP99Ms), String(r.callsPerSec)]),
];
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
for (const row of table) console.log(`| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`);
console.log(`\nA warm Node.js process against a warm thread, ${ROUNDS} interleaved rounds of ${CALLS} calls (p50s, median of per-round ratios):`);
for (const r of sideBySide) {
  console.log(
    `  ${r.sandbox}: process ${ms(r.processP50Ms)} ms, thread ${ms(r.threadP50Ms)} ms, ${r.ratio.toFixed(2)}× (rounds ${r.ratios.map((x) => x.toFixed(2)).join(', ')})`,
  );
}

const outDir = path.join(root, 'bench', 'results');
fs.mkdirSync(outDir, { recursive: true });
const outFile = path.join(outDir, `runtimes-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
fs.writeFileSync(
  outFile,
  JSON.stringify(
    {
      at: new Date().toISOString(),
      node: process.version,
      python: pythonVersion,
      cores: os.availableParallelism(),
      cold: COLD,
      calls: CALLS,
      rounds: ROUNDS,
      rows,
      sideBySide,
    },
    null,
    2,
  ),
);
console.log(`\nresults: ${path.relative(root, outFile)}`);
