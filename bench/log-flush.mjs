// `npm run bench:logs`: what the log destination costs, and how long a line waits before it is
// seen. Three settings of core's logger:
//   4 KB buffer, no timer   what invoq shipped before (a quiet service's lines wait until 4 KB)
//   4 KB buffer + 100 ms    the buffer, flushed by an unref'd timer (the default now)
//   no buffer               one asynchronous write per line (sonic-boom minLength 0)
// each writing to /dev/null (as `npm run bench`) and to a pipe this script drains (a terminal or
// a log shipper). Two parts, their runs alternating so the machine's drift hits all alike:
//   lines  a process logging invocation lines at a steady 2,000 and 8,000 a second: CPU (every
//          thread) per line, less the same loop with logging off, and its writes to stdout;
//   http   the API (auth on, metrics on, logs at info, as `npm run bench` runs it), the sync
//          invoke of echo under autocannon at full speed and evenly paced at BENCH_PACED_RATE
//          (1,000/s): req/s, p99, the API's CPU per 1,000 requests, its write calls; then, with
//          the service quiet, the time from an answer to its log line on the pipe.
// BENCH_PART=lines or http runs one. Loopback only; exit code 1 on any error.
import { fork } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { startRedisServer } from '../scripts/local-redis.cjs';
import { sendPaced } from './paced-requests.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const PACED_RATE = Number(process.env.BENCH_PACED_RATE ?? 1000);
const QUIET_PROBES = 5;
const KEY = 'bench-key';
const body = JSON.stringify({ hello: 'world', n: 42, items: [1, 2, 3] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const CLOCK_TICK_MS = 10; // /proc's utime and stime are in USER_HZ, 100 a second on Linux
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS; // utime, stime
};

/** Write system calls the process made so far (every thread, so sonic-boom's too). */
const writeCalls = (pid) => Number(/syscw: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);

const SETTINGS = [
  { name: '4 KB buffer, no timer (before)', options: { bufferBytes: 4096, flushIntervalMs: 0 } },
  { name: '4 KB buffer + 100 ms timer (now)', options: { bufferBytes: 4096, flushIntervalMs: 100 } },
  { name: 'no buffer (a write per line)', options: { bufferBytes: 0 } },
];
const SINKS = ['/dev/null', 'pipe'];

const LINE_RATES = [2000, 8000];
const LINE_ROUNDS = Number(process.env.BENCH_LINE_ROUNDS ?? 6);
const PART = process.env.BENCH_PART;

/** Forks `script` with its stdout on `sink`: /dev/null, or a pipe drained here. */
function forkTo(sink, script, argv, env) {
  const devNull = sink === 'pipe' ? undefined : openSync('/dev/null', 'w');
  const child = fork(path.join(root, script), argv, { env, stdio: ['ignore', devNull ?? 'pipe', 'inherit', 'ipc'] });
  if (devNull !== undefined) closeSync(devNull); // the child has its own copy
  return child;
}

/** One run of bench/log-writer.mjs: `setting` is LoggerOptions or 'silent'. */
function writeLines(setting, sink, rate) {
  const child = forkTo(sink, 'bench/log-writer.mjs', [setting === 'silent' ? 'silent' : JSON.stringify(setting), String(rate), '1']);
  child.stdout?.resume();
  return new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`log-writer exited with ${code}`))));
  });
}

async function linesPart() {
  const cases = SETTINGS.flatMap((setting) => SINKS.flatMap((sink) => LINE_RATES.map((rate) => ({ setting, sink, rate, runs: [] }))));
  const loops = new Map(LINE_RATES.map((rate) => [rate, []]));
  for (let round = 0; round < LINE_ROUNDS; round++) {
    for (const rate of LINE_RATES) {
      loops.get(rate).push(await writeLines('silent', '/dev/null', rate));
      for (const c of cases.filter((x) => x.rate === rate)) c.runs.push(await writeLines(c.setting.options, c.sink, rate));
    }
  }
  // CPU per line, less what the same loop costs with logging off (building the line's fields,
  // the timer).
  const cpuPerLine = (runs) => median(runs.map((r) => r.cpuUs / r.lines));
  const writesPer1000 = (runs) => median(runs.map((r) => (r.writes / r.lines) * 1000));
  const table = cases.map((c) => ({
    setting: c.setting.name,
    sink: c.sink,
    'lines/s': c.rate,
    'CPU µs / line': +(cpuPerLine(c.runs) - cpuPerLine(loops.get(c.rate))).toFixed(2),
    'stdout writes / 1000 lines': Math.round(writesPer1000(c.runs)),
  }));
  const loopCosts = LINE_RATES.map((r) => `${cpuPerLine(loops.get(r)).toFixed(2)} µs a line at ${r}/s`);
  console.log(
    `\nlines: invocation lines at a steady rate, ${LINE_ROUNDS} alternating rounds of 1 s (medians; CPU of every thread less the same loop with logging off, ${loopCosts.join(', ')}), node ${process.version}`,
  );
  console.table(table);
  return { table, runs: cases.map((c) => ({ setting: c.setting.name, sink: c.sink, rate: c.rate, runs: c.runs })), loopRuns: Object.fromEntries(loops) };
}

async function httpPart() {
  const children = [];
  const redis = await startRedisServer();
  try {
    const apis = [];
    for (const setting of SETTINGS) {
      for (const sink of SINKS) {
        const env = {
          PATH: process.env.PATH,
          REDIS_URL: redis.url,
          PORT: '0',
          INVOQ_METRICS_PORT: '0',
          INVOQ_QUEUE_PREFIX: 'bench-logs',
          INVOQ_API_KEYS: KEY,
          LOG_LEVEL: 'info',
          NODE_ENV: 'production',
        };
        const child = forkTo(sink, 'bench/log-api.mjs', [JSON.stringify(setting.options)], env);
        children.push(child);
        const api = { setting, sink, child, output: '', bytes: 0 };
        // Drained as a terminal would; kept only while a probe looks for its line.
        child.stdout?.on('data', (chunk) => {
          api.bytes += chunk.length;
          if (api.watching) api.output += chunk.toString();
        });
        const { port } = await new Promise((resolve, reject) => {
          child.once('message', resolve);
          child.once('exit', (code) => reject(new Error(`the API (${setting.name}, ${sink}) exited with ${code}`)));
        });
        api.url = `http://127.0.0.1:${port}/2015-03-31/functions/echo/invocations`;
        apis.push(api);
      }
    }

    const opts = (api) => ({ url: api.url, method: 'POST', body, headers: { 'content-type': 'application/json', 'x-api-key': KEY }, connections: CONNECTIONS });
    for (const api of apis) await autocannon({ ...opts(api), duration: WARMUP_S });
    const runs = new Map(apis.map((api) => [api, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const api of apis) {
        let cpuBefore = cpuMs(api.child.pid);
        const r = await autocannon({ ...opts(api), duration: DURATION_S });
        const cpu = cpuMs(api.child.pid) - cpuBefore;
        // The same calls at a steady rate below capacity, where a write per line batches least.
        cpuBefore = cpuMs(api.child.pid);
        const writesBefore = writeCalls(api.child.pid);
        const paced = await sendPaced({ url: api.url, body, headers: opts(api).headers }, PACED_RATE, DURATION_S);
        const pacedCpu = cpuMs(api.child.pid) - cpuBefore;
        const pacedWrites = writeCalls(api.child.pid) - writesBefore;
        runs.get(api).push({
          reqPerSec: r.requests.average,
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          cpuMsPer1000: (cpu / r.requests.total) * 1000,
          pacedCpuMsPer1000: (pacedCpu / paced.sent) * 1000,
          pacedWritesPer1000: (pacedWrites / paced.sent) * 1000,
          errors: r.errors + r.timeouts + r.non2xx + paced.errors,
        });
      }
    }

    // Quiet service: one call, then how long until its line is on the pipe (3 s at most).
    const quiet = new Map();
    for (const api of apis.filter((a) => a.sink === 'pipe')) {
      const waits = [];
      for (let i = 0; i < QUIET_PROBES; i++) {
        await sleep(300); // let the load's lines drain first
        api.output = '';
        api.watching = true;
        const res = await fetch(api.url, { method: 'POST', body, headers: { 'x-api-key': KEY } });
        const answeredAt = performance.now();
        const id = res.headers.get('x-amzn-requestid');
        await res.text();
        const deadline = answeredAt + 3000;
        while (!api.output.includes(id) && performance.now() < deadline) await sleep(1);
        waits.push(api.output.includes(id) ? performance.now() - answeredAt : Infinity);
        api.watching = false;
      }
      quiet.set(api, waits);
    }

    const baseline = apis.filter((a) => a.setting === SETTINGS[0]);
    const table = apis.map((api) => {
      const r = runs.get(api);
      const base = runs.get(baseline.find((b) => b.sink === api.sink));
      const waits = quiet.get(api);
      return {
        setting: api.setting.name,
        sink: api.sink,
        'req/s': Math.round(median(r.map((x) => x.reqPerSec))),
        'vs before': +median(r.map((x, i) => x.reqPerSec / base[i].reqPerSec)).toFixed(3),
        'p99 ms': median(r.map((x) => x.p99Ms)),
        'API CPU ms / 1000 req': +median(r.map((x) => x.cpuMsPer1000)).toFixed(1),
        [`same at ${PACED_RATE}/s`]: +median(r.map((x) => x.pacedCpuMsPer1000)).toFixed(1),
        [`write calls / 1000 req at ${PACED_RATE}/s`]: Math.round(median(r.map((x) => x.pacedWritesPer1000))),
        'quiet: line seen after ms': waits ? (Number.isFinite(median(waits)) ? Math.round(median(waits)) : '> 3000') : null,
        errors: r.reduce((n, x) => n + x.errors, 0),
      };
    });
    console.log(
      `\nhttp: sync invoke of echo, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up, ${ROUNDS} alternating rounds of ${DURATION_S} s at full speed and ${DURATION_S} s at ${PACED_RATE}/s (medians; "vs before" is the median of per-round ratios to the 4 KB buffer on the same sink), node ${process.version}`,
    );
    console.table(table);
    return {
      connections: CONNECTIONS,
      durationS: DURATION_S,
      rounds: ROUNDS,
      pacedRate: PACED_RATE,
      table,
      runs: apis.map((a) => ({ setting: a.setting.name, sink: a.sink, runs: runs.get(a), quietWaitsMs: quiet.get(a) })),
    };
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
    await redis.stop();
  }
}

const results = {};
if (PART !== 'http') results.lines = await linesPart();
if (PART !== 'lines') results.http = await httpPart();
const out = path.join(root, 'bench', 'results', `logs-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, ...results }, null, 2));
console.log(`written ${path.relative(root, out)}`);
if ((results.http?.table ?? []).some((row) => row.errors > 0)) process.exitCode = 1;
