// `npm run load`: a bounded load / soak run against a running API, on loopback only.
//   npm start                                  # in another terminal (auth off on loopback)
//   npm run load                               # 1 min at half of the measured capacity
//   npm run load -- --duration 300             # the 5-minute soak
//   npm run load -- --rate 500 --event-share 1 --function echo
//   npm run load -- --own --duration 300       # its own Redis, API and worker instead
// It measures capacity (the mixed sync + Event load unthrottled for 10 s) unless --rate is given,
// then holds --capacity-share (0.5) of it for --duration seconds, sampling every --sample seconds
// from the tiers' /metrics: throughput, errors, RSS and V8 heap of the API and the worker, the
// queue and the DLQ (and Redis memory with --own). At the end it waits for the worker to finish
// and checks that every event the API accepted finished (invoq_async_events_received_total
// against invoq_async_attempts_count). Exit code 1 on any error or lost event. Bounded: ≤ 30 min,
// ≤ 20,000 req/s, loopback targets only.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import IORedis from 'ioredis';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    url: { type: 'string', default: `http://127.0.0.1:${process.env.PORT ?? 3000}` },
    'worker-metrics': { type: 'string', default: `http://127.0.0.1:${process.env.INVOQ_METRICS_PORT ?? 9091}/metrics` },
    'api-key': { type: 'string', default: process.env.INVOQ_API_KEYS?.split(',')[0] },
    function: { type: 'string', default: 'echo' },
    own: { type: 'boolean', default: false },
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
const FN = args.function;
const DRAIN_DEADLINE_MS = 300_000;
if (!(DURATION_S > 0) || !(CONNECTIONS > 0)) throw new Error('--duration and --connections must be positive numbers');
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
for (const url of [args.url, args['worker-metrics']]) {
  if (!LOOPBACK.has(new URL(url).hostname)) throw new Error(`${url}: npm run load only targets loopback addresses`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => (Number.isFinite(bytes) ? Math.round(bytes / 1048576) : null);
/** Sum of a metric's samples whose labels include all of `labels` (label order as exposed). */
function metric(text, name, labels = {}) {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    found = true;
  }
  return found ? sum : NaN;
}
const scrape = (url) =>
  fetch(url).then(
    (r) => r.text(),
    () => '',
  );
const answers = (url) =>
  fetch(url).then(
    (r) => r.ok,
    () => false,
  );

const children = [];
let redis;
let redisClient;
let apiUrl = args.url.replace(/\/$/, '');
let workerMetricsUrl = args['worker-metrics'];
let apiKey = args['api-key'];
try {
  if (args.own || !(await answers(`${apiUrl}/healthz`))) {
    if (!args.own) console.log(`no API answers at ${apiUrl}: starting its own Redis, API and worker (--own)`);
    redis = await startRedisServer({ aof: 'everysec' });
    redisClient = new IORedis(redis.url);
    const [apiPort, metricsPort] = [await freePort(), await freePort()];
    apiUrl = `http://127.0.0.1:${apiPort}`;
    workerMetricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    apiKey = undefined;
    const env = {
      ...process.env,
      REDIS_URL: redis.url,
      HOST: '127.0.0.1',
      PORT: String(apiPort),
      INVOQ_METRICS_PORT: String(metricsPort),
      INVOQ_AUTH: 'off',
      INVOQ_QUEUE_PREFIX: 'load',
      LOG_LEVEL: 'warn',
    };
    for (const tier of ['api', 'worker']) children.push(fork(path.join(root, `apps/${tier}/dist/main.js`), [], { env, stdio: 'inherit' }));
  }
  for (const url of [`${apiUrl}/readyz`, workerMetricsUrl.replace(/\/metrics$/, '/readyz')]) {
    const deadline = Date.now() + 20_000;
    while (!(await answers(url))) {
      if (Date.now() > deadline) throw new Error(`${url} does not answer (is the worker running? --worker-metrics sets its address)`);
      await sleep(100);
    }
  }

  const url = `${apiUrl}/2015-03-31/functions/${encodeURIComponent(FN)}/invocations`;
  const body = JSON.stringify({ hello: 'world', n: 42, items: [1, 2, 3] });
  const baseHeaders = { 'content-type': 'application/json', ...(apiKey ? { 'x-api-key': apiKey } : {}) };
  // autocannon cycles through `requests` on each connection: a mix of sync and Event invokes.
  const eventEvery = EVENT_SHARE === 0 ? 0 : Math.round(1 / EVENT_SHARE);
  const requests =
    eventEvery === 0
      ? [{ method: 'POST', body, headers: baseHeaders }]
      : Array.from({ length: eventEvery }, (_, i) => ({
          method: 'POST',
          body,
          headers: i === 0 ? { ...baseHeaders, 'x-amz-invocation-type': 'Event' } : baseHeaders,
        }));
  const probe = await fetch(url, { method: 'POST', body, headers: baseHeaders });
  if (!probe.ok) throw new Error(`a sync invoke of ${FN} answered ${probe.status}: ${(await probe.text()).slice(0, 200)} (--api-key, --function)`);

  let rate = args.rate === undefined ? undefined : Math.min(Number(args.rate), 20_000);
  let capacity = null;
  if (rate === undefined) {
    await autocannon({ url, requests, connections: CONNECTIONS, duration: 3 });
    const r = await autocannon({ url, requests, connections: CONNECTIONS, duration: 10 });
    capacity = Math.round(r.requests.average);
    rate = Math.max(1, Math.round(capacity * Number(args['capacity-share'])));
    console.log(`capacity: ${capacity} req/s (mixed, ${CONNECTIONS} connections, 10 s); holding ${rate} req/s`);
  }

  // Events accepted (the API's count) and finished (the worker's: success or dead-lettered).
  const counts = async () => {
    const [api, worker] = await Promise.all([scrape(`${apiUrl}/metrics`), scrape(workerMetricsUrl)]);
    return {
      // A series appears with its first sample: none yet is zero.
      accepted: metric(api, 'invoq_async_events_received_total', { function: FN }) || 0,
      finished: metric(worker, 'invoq_async_attempts_count', { function: FN }) || 0,
      dead: metric(worker, 'invoq_dead_letter_total', { function: FN }) || 0,
      queued: ['waiting', 'delayed', 'active'].reduce((n, state) => n + (metric(api, 'invoq_queue_jobs', { function: FN, state }) || 0), 0),
    };
  };
  // Wait for the worker to finish what is queued, so the run starts level and ends complete.
  const settled = async () => {
    const deadline = Date.now() + DRAIN_DEADLINE_MS;
    let last = await counts();
    for (;;) {
      await sleep(1100); // the queue gauges are cached for a second
      const now = await counts();
      if ((now.queued === 0 && now.finished === last.finished) || Date.now() > deadline) return now;
      last = now;
    }
  };
  const before = await settled();

  const samples = [];
  let window = { answers: 0, errors: 0, since: Date.now() };
  let errors = 0;
  const statuses = {};
  const started = Date.now();
  async function sample() {
    // The moment and the window are taken when the sample is due, before the scrapes (which take
    // a while under load): its time and its rate are those of the window it closes.
    const at = Date.now();
    const closed = window;
    window = { answers: 0, errors: 0, since: at };
    const [api, worker] = await Promise.all([scrape(`${apiUrl}/metrics`), scrape(workerMetricsUrl)]);
    const row = {
      t: Math.round((at - started) / 1000),
      reqPerSec: Math.round((closed.answers + closed.errors) / Math.max(0.001, (at - closed.since) / 1000)),
      errors: closed.errors,
      apiRssMb: mb(metric(api, 'process_resident_memory_bytes')),
      apiHeapMb: mb(metric(api, 'nodejs_heap_size_used_bytes')),
      workerRssMb: mb(metric(worker, 'process_resident_memory_bytes')),
      workerHeapMb: mb(metric(worker, 'nodejs_heap_size_used_bytes')),
      redisMb: redisClient ? mb(Number(/used_memory:(\d+)/.exec(await redisClient.info('memory'))?.[1])) : null,
      queued: ['waiting', 'delayed'].reduce((n, state) => n + (metric(api, 'invoq_queue_jobs', { function: FN, state }) || 0), 0),
      dlq: metric(api, 'invoq_dlq_depth', { function: FN }),
    };
    samples.push(row);
    console.log(JSON.stringify(row));
  }
  await sample(); // t=0: memory at the start
  // The run's last sample is taken when the load ends; a tick due about then would repeat it (the
  // same t twice, the second over an empty window), so ticks stop half a sample before the end.
  const inFlight = new Set();
  const sampler = setInterval(() => {
    if ((Date.now() - started) / 1000 >= DURATION_S - SAMPLE_S / 2) return;
    const done = sample().finally(() => inFlight.delete(done));
    inFlight.add(done);
  }, SAMPLE_S * 1000);
  const instance = autocannon({ url, requests, connections: CONNECTIONS, duration: DURATION_S, overallRate: rate });
  instance.on('response', (_client, status) => {
    const ok = status === 200 || status === 202;
    window[ok ? 'answers' : 'errors'] += 1;
    if (!ok) errors += 1;
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  instance.on('reqError', () => {
    window.errors += 1;
    errors += 1;
  });
  const result = await instance;
  clearInterval(sampler);
  await Promise.all(inFlight); // so the samples stay in time order
  await sample();

  const after = await settled();
  const accepted = after.accepted - before.accepted;
  const finished = after.finished - before.finished;
  const memory = (key) => ({ start: samples[0][key], end: samples.at(-1)[key], max: Math.max(...samples.map((s) => s[key] ?? 0)) });
  const summary = {
    target: apiUrl,
    function: FN,
    durationS: DURATION_S,
    targetRate: rate,
    capacity,
    achievedReqPerSec: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    errors: errors + result.timeouts,
    statuses,
    eventsAccepted: accepted,
    eventsFinished: finished,
    eventsDeadLettered: after.dead - before.dead,
    eventsStillQueued: after.queued,
    eventsLost: accepted - finished,
    memoryMb: {
      apiRss: memory('apiRssMb'),
      apiHeap: memory('apiHeapMb'),
      workerRss: memory('workerRssMb'),
      workerHeap: memory('workerHeapMb'),
      ...(redisClient ? { redis: memory('redisMb') } : {}),
    },
  };
  console.table(samples);
  console.log(JSON.stringify(summary, null, 2));
  const out = path.join(root, 'bench', 'results', `load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, connections: CONNECTIONS, summary, samples }, null, 2));
  console.log(`written ${path.relative(root, out)}`);
  if (summary.errors > 0 || summary.eventsLost !== 0 || Number.isNaN(summary.eventsLost)) process.exitCode = 1;
} finally {
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  redisClient?.disconnect();
  await redis?.stop();
}
