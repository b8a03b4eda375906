// `npm run load`: a bounded load / soak run against a real API and worker on loopback.
//   npm run load                          1 min at half of the measured capacity
//   npm run load -- --duration 300        the 5-minute soak
//   npm run load -- --rate 500 --event-share 1
// It first measures capacity (the mixed sync + Event load unthrottled for 10 s) unless --rate
// is given, then runs at --capacity-share (0.5) of it for --duration seconds, sampling every
// --sample seconds: throughput, errors, RSS and V8 heap of each process, Redis memory and the queue. At the
// end it waits for the worker to drain and checks that every accepted event ran. Exit code 1 on
// any error or lost event. Bounded: ≤ 30 min, ≤ 20,000 req/s, its own Redis and processes only.
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { freePort, startRedisServer } from '../scripts/redis-server.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    rate: { type: 'string' },
    'capacity-share': { type: 'string', default: '0.5' },
    'event-share': { type: 'string', default: '0.5' },
    connections: { type: 'string', default: '20' },
    sample: { type: 'string', default: '10' },
  },
});
const DURATION_S = Math.min(Number(args.duration), 1800);
const CONNECTIONS = Math.min(Number(args.connections), 500);
const SAMPLE_S = Math.max(1, Number(args.sample));
const EVENT_SHARE = Math.min(1, Math.max(0, Number(args['event-share'])));
const DRAIN_DEADLINE_MS = 300_000;
if (!(DURATION_S > 0) || !(CONNECTIONS > 0)) throw new Error('--duration and --connections must be positive numbers');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => Math.round(bytes / 1048576);
/** Resident memory of a process, from /proc (Linux). */
function rssMb(pid) {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);
  } catch {
    return null;
  }
}

const redis = await startRedisServer({ args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] });
const [apiPort, metricsPort] = [await freePort(), await freePort()];
const env = { ...process.env, REDIS_URL: redis.url, HOST: '127.0.0.1', PORT: String(apiPort), INVOQ_METRICS_PORT: String(metricsPort), INVOQ_AUTH: 'off', INVOQ_QUEUE_PREFIX: 'load', LOG_LEVEL: 'warn' };
const children = [];
const tier = (name) => {
  const child = fork(path.join(root, `apps/${name}/dist/main.js`), [], { env, stdio: 'inherit' });
  children.push(child);
  return child;
};
const queue = new Queue('{echo}', { connection: { url: redis.url }, prefix: 'load' });
const redisClient = new IORedis(redis.url);

try {
  const api = tier('api');
  const worker = tier('worker');
  for (const url of [`http://127.0.0.1:${apiPort}/readyz`, `http://127.0.0.1:${metricsPort}/readyz`]) {
    const deadline = Date.now() + 20_000;
    while (!(await fetch(url).then((r) => r.ok, () => false))) {
      if (Date.now() > deadline) throw new Error(`${url} did not come up`);
      await sleep(100);
    }
  }

  const url = `http://127.0.0.1:${apiPort}/2015-03-31/functions/echo/invocations`;
  const body = JSON.stringify({ hello: 'world', n: 42, items: [1, 2, 3] });
  // autocannon cycles through `requests` on each connection: a mix of sync and Event invokes.
  const eventEvery = EVENT_SHARE === 0 ? 0 : Math.round(1 / EVENT_SHARE);
  const mix = eventEvery === 0 ? [{}] : Array.from({ length: eventEvery }, (_, i) => (i === 0 ? { headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'Event' } } : {}));
  const requests = mix.map((r) => ({ method: 'POST', body, headers: { 'content-type': 'application/json' }, ...r }));

  let rate = args.rate === undefined ? undefined : Math.min(Number(args.rate), 20_000);
  let capacity = null;
  if (rate === undefined) {
    await autocannon({ url, requests, connections: CONNECTIONS, duration: 3 });
    const r = await autocannon({ url, requests, connections: CONNECTIONS, duration: 10 });
    capacity = Math.round(r.requests.average);
    rate = Math.max(1, Math.round(capacity * Number(args['capacity-share'])));
    console.log(`capacity: ${capacity} req/s (mixed, ${CONNECTIONS} connections, 10 s); soaking at ${rate} req/s`);
  }
  // Let the worker finish what the capacity run queued, so the soak starts level and its own
  // events can be counted.
  const idle = async () => {
    const deadline = Date.now() + DRAIN_DEADLINE_MS;
    for (;;) {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed', 'failed');
      if (counts.waiting + counts.active + counts.delayed === 0 || Date.now() > deadline) return counts;
      await sleep(200);
    }
  };
  // The API's own count of accepted events (autocannon does not report answers still in flight
  // when it stops).
  const acceptedEvents = async () => {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    return Number(/^invoq_async_events_received_total\{function="echo"\} (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const before = await idle();
  const acceptedBefore = await acceptedEvents();

  const samples = [];
  let window = { ok: 0, accepted: 0, errors: 0 };
  const totals = { ok: 0, accepted: 0, errors: 0, statuses: {} };
  const started = Date.now();
  // V8's heap after the last GC, from each tier's /metrics: a leak shows here before RSS.
  const heapMb = async (url) => {
    const text = await fetch(url).then((r) => r.text(), () => '');
    const used = /^nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1];
    return used === undefined ? null : mb(Number(used));
  };
  async function sample() {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    const info = await redisClient.info('memory');
    const row = {
      t: Math.round((Date.now() - started) / 1000),
      reqPerSec: Math.round((window.ok + window.accepted + window.errors) / SAMPLE_S),
      errors: window.errors,
      apiRssMb: rssMb(api.pid),
      apiHeapMb: await heapMb(`http://127.0.0.1:${apiPort}/metrics`),
      workerRssMb: rssMb(worker.pid),
      workerHeapMb: await heapMb(`http://127.0.0.1:${metricsPort}/metrics`),
      redisMb: mb(Number(/used_memory:(\d+)/.exec(info)[1])),
      queued: counts.waiting + counts.delayed,
      dlq: counts.failed,
    };
    window = { ok: 0, accepted: 0, errors: 0 };
    samples.push(row);
    console.log(JSON.stringify(row));
  }
  await sample(); // t=0: memory at the start
  const sampler = setInterval(() => void sample(), SAMPLE_S * 1000);
  const instance = autocannon({ url, requests, connections: CONNECTIONS, duration: DURATION_S, overallRate: rate });
  instance.on('response', (_client, status) => {
    const kind = status === 200 ? 'ok' : status === 202 ? 'accepted' : 'errors';
    window[kind] += 1;
    totals[kind] += 1;
    totals.statuses[status] = (totals.statuses[status] ?? 0) + 1;
  });
  instance.on('reqError', () => {
    window.errors += 1;
    totals.errors += 1;
  });
  const result = await instance;
  clearInterval(sampler);
  await sample();

  // Nothing lost: every event the API accepted (202) ran to completion or sits in the DLQ.
  const after = await idle();
  const accepted = (await acceptedEvents()) - acceptedBefore;
  const ran = after.completed - before.completed;
  const dead = after.failed - before.failed;
  const summary = {
    durationS: DURATION_S,
    targetRate: rate,
    capacity,
    achievedReqPerSec: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    syncOk: totals.ok,
    eventsAccepted: accepted,
    eventsRan: ran,
    eventsInDlq: dead,
    eventsStillQueued: after.waiting + after.active + after.delayed,
    eventsLost: accepted - ran - dead,
    errors: totals.errors + result.timeouts,
    statuses: totals.statuses,
    memoryMb: {
      api: { rssStart: samples[0].apiRssMb, rssEnd: samples.at(-1).apiRssMb, rssMax: Math.max(...samples.map((s) => s.apiRssMb)), heapStart: samples[0].apiHeapMb, heapEnd: samples.at(-1).apiHeapMb },
      worker: { rssStart: samples[0].workerRssMb, rssEnd: samples.at(-1).workerRssMb, rssMax: Math.max(...samples.map((s) => s.workerRssMb)), heapStart: samples[0].workerHeapMb, heapEnd: samples.at(-1).workerHeapMb },
      redis: { start: samples[0].redisMb, end: samples.at(-1).redisMb },
    },
  };
  console.table(samples);
  console.log(JSON.stringify(summary, null, 2));
  const out = path.join(root, 'bench', 'results', `load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, connections: CONNECTIONS, summary, samples }, null, 2));
  console.log(`written ${path.relative(root, out)}`);
  if (summary.errors > 0 || summary.eventsLost !== 0) process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  await queue.close();
  redisClient.disconnect();
  await redis.stop();
}
