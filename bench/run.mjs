// `npm run bench`: invoq's hot paths beside the baselines a user would build by hand, measured
// side by side in one run on this machine (ratios within one run are what to compare).
//   HTTP: bare express echo | invoq sync invoke of a no-op | toy async tier | invoq Event —
//         interleaved over BENCH_ROUNDS rounds (medians reported), so drift hits all alike.
//   Queue: raw BullMQ add | raw BullMQ drain against invoq's worker drain (same concurrency),
//          interleaved over BENCH_DRAIN_ROUNDS rounds of BENCH_DRAIN_JOBS jobs.
//   Latency: enqueue-to-start of events sent at half the measured Event capacity, and the toy's
//            (its API and a raw BullMQ worker) at the same rates.
// invoq runs at its defaults: auth on (an API key), metrics on, access logs at info (to
// /dev/null), Redis with AOF everysec. Loopback only. Exit code 1 on any error.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Queue } from 'bullmq';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';
import { drainRate, pausedDrain } from './drain-rounds.mjs';
import { sendPaced } from './paced-requests.mjs';
import { rssPeaks, waitUntilReady } from './process-stats.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { EventProducer, EventQueues, closeRedis, createRedisConnection, serviceNodeFlags } = createRequire(import.meta.url)(
  path.join(root, 'packages/core/dist/index.js'),
);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 4);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const WORKER_CONCURRENCY = 32; // INVOQ_WORKER_CONCURRENCY's default, for both drains
const DRAIN_ROUNDS = Number(process.env.BENCH_DRAIN_ROUNDS ?? 5);
const DRAIN_JOBS = Number(process.env.BENCH_DRAIN_JOBS ?? 30_000);
const KEY = 'bench-key';
const body = JSON.stringify({ hello: 'world', n: 42, items: [1, 2, 3] });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const children = [];
/**
 * Forks a script; resolves once it says it is ready (IPC) or its URL answers. invoq's apps get
 * the Node.js flags `npm start` gives them.
 */
async function start(script, env, { readyUrl, quiet = false } = {}) {
  const child = fork(path.join(root, script), [], {
    env: { ...process.env, ...env },
    execArgv: script.startsWith('apps/') ? serviceNodeFlags() : [],
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
  children.push(child);
  const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`))));
  exited.catch(() => undefined);
  if (!readyUrl) {
    await Promise.race([new Promise((resolve) => child.once('message', resolve)), exited]);
    return child;
  }
  await waitUntilReady(readyUrl);
  return child;
}

/** One autocannon run; samples a process's RSS while it runs. */
async function http(opts, duration, watchPid) {
  const rss = watchPid ? rssPeaks([watchPid]) : undefined;
  const r = await autocannon({ ...opts, connections: CONNECTIONS, duration });
  const maxRss = rss ? rss.stop()[0] : 0;
  return { reqPerSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts + r.non2xx, maxRss };
}

/** Resolves once `queue` has nothing waiting or running, looking every `everyMs`. */
async function untilEmpty(queue, everyMs) {
  for (let c = await queue.getJobCounts('waiting', 'active'); c.waiting + c.active > 0; c = await queue.getJobCounts('waiting', 'active')) await sleep(everyMs);
}

const redis = await startRedisServer({ aof: 'everysec' });
try {
  const [barePort, toyPort, apiPort, metricsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  await start('bench/bare-echo.mjs', { PORT: String(barePort) });
  await start('bench/toy-async.mjs', { PORT: String(toyPort), REDIS_URL: redis.url });
  const invoqEnv = {
    REDIS_URL: redis.url,
    PORT: String(apiPort),
    INVOQ_METRICS_PORT: String(metricsPort),
    INVOQ_QUEUE_PREFIX: 'bench',
    INVOQ_API_KEYS: KEY,
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
  };
  // The API alone first: enqueue is measured like the toy's, with no worker draining beside it.
  const api = await start('apps/api/dist/main.js', invoqEnv, { readyUrl: `http://127.0.0.1:${apiPort}/readyz`, quiet: true });

  const post = (url, headers = {}) => ({ url, method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const invokeUrl = `http://127.0.0.1:${apiPort}/2015-03-31/functions/echo/invocations`;
  const scenarios = [
    { name: 'bare express echo', opts: post(`http://127.0.0.1:${barePort}/echo`) },
    { name: 'invoq sync invoke (echo)', opts: post(invokeUrl, { 'x-api-key': KEY }), baseline: 'bare express echo', watch: api.pid },
    { name: 'toy async (express + Queue.add)', opts: post(`http://127.0.0.1:${toyPort}/event`) },
    {
      name: 'invoq Event invoke (echo)',
      opts: post(invokeUrl, { 'x-api-key': KEY, 'x-amz-invocation-type': 'Event' }),
      baseline: 'bare express echo',
      watch: api.pid,
    },
  ];
  for (const s of scenarios) await http(s.opts, WARMUP_S);
  const runs = new Map(scenarios.map((s) => [s.name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of scenarios) runs.get(s.name).push(await http(s.opts, DURATION_S, s.watch));
  }
  // Ratios are taken within each round (the machine's speed drifts between rounds), then the
  // median of those ratios is reported.
  const rows = scenarios.map((s) => {
    const r = runs.get(s.name);
    const base = s.baseline ? runs.get(s.baseline) : undefined;
    return {
      name: s.name,
      perSec: Math.round(median(r.map((x) => x.reqPerSec))),
      p50Ms: median(r.map((x) => x.p50Ms)),
      p99Ms: median(r.map((x) => x.p99Ms)),
      errors: r.reduce((n, x) => n + x.errors, 0),
      baseline: s.baseline,
      ratio: base ? median(r.map((x, i) => x.reqPerSec / base[i].reqPerSec)) : undefined,
      p99Ratio: base ? median(r.map((x, i) => x.p99Ms / base[i].p99Ms)) : undefined,
      rssMaxMb: s.watch ? Math.max(...r.map((x) => x.maxRss)) : undefined,
    };
  });
  const toyRatio = median(runs.get('toy async (express + Queue.add)').map((x, i) => x.reqPerSec / runs.get('bare express echo')[i].reqPerSec));

  // Raw BullMQ: adds from one process (500 in flight), then a plain Worker drains them.
  const raw = new Queue('raw', { connection: { url: redis.url }, prefix: '{bench-raw}' });
  let added = 0;
  const addUntil = performance.now() + DURATION_S * 1000;
  await Promise.all(
    Array.from({ length: 500 }, async () => {
      while (performance.now() < addUntil) {
        await raw.add('job', { hello: 'world', n: 42 });
        added++;
      }
    }),
  );
  rows.push({ name: 'raw BullMQ add (one process)', perSec: Math.round(added / DURATION_S), errors: 0 });
  await raw.obliterate({ force: true });

  // invoq's worker drains the backlog the Event runs left first (every accepted event must run);
  // then the drains are compared in DRAIN_ROUNDS interleaved rounds, a raw BullMQ worker and
  // invoq's at the same concurrency, each on DRAIN_JOBS jobs queued while its queue was paused.
  const events = new Queue('{echo}', { connection: { url: redis.url }, prefix: 'bench' });
  await start('bench/raw-bullmq-worker.mjs', { REDIS_URL: redis.url, QUEUE: 'raw', PREFIX: '{bench-raw}', CONCURRENCY: String(WORKER_CONCURRENCY) });
  const worker = await start(
    'apps/worker/dist/main.js',
    { ...invoqEnv, INVOQ_WORKER_CONCURRENCY: String(WORKER_CONCURRENCY) },
    { readyUrl: `http://127.0.0.1:${metricsPort}/readyz`, quiet: true },
  );
  const backlog = await drainRate(events);
  // Events queued as the API queues them (its producer, with the retention settings' defaults).
  const producerConnection = createRedisConnection(redis.url);
  const producer = new EventProducer(
    new EventQueues({ connection: producerConnection, prefix: 'bench', statusRetentionSeconds: 3600, dlqRetentionSeconds: 1_209_600 }),
  );
  const drains = { raw: [], invoq: [] };
  const drainRss = rssPeaks([worker.pid]);
  for (let round = 0; round < DRAIN_ROUNDS; round++) {
    drains.raw.push(await pausedDrain(raw, () => raw.add('job', { hello: 'world', n: 42 }), DRAIN_JOBS, { redis: producerConnection }));
    drains.invoq.push(await pausedDrain(events, () => producer.enqueue('echo', randomUUID(), body), DRAIN_JOBS, { redis: producerConnection }));
  }
  const workerRssMaxMb = drainRss.stop()[0];
  await closeRedis(producerConnection);
  rows.push({
    name: `raw BullMQ drain (${DRAIN_ROUNDS} rounds of ${DRAIN_JOBS} no-op jobs, concurrency ${WORKER_CONCURRENCY})`,
    perSec: Math.round(median(drains.raw.map((d) => d.perSec))),
    errors: drains.raw.reduce((n, d) => n + d.failed, 0),
  });
  rows.push({
    name: `invoq worker drain (${DRAIN_ROUNDS} rounds of ${DRAIN_JOBS} events, concurrency ${WORKER_CONCURRENCY})`,
    perSec: Math.round(median(drains.invoq.map((d) => d.perSec))),
    errors: backlog.failed + drains.invoq.reduce((n, d) => n + d.failed, 0),
    ratio: median(drains.invoq.map((d, i) => d.perSec / drains.raw[i].perSec)),
    workerRssMaxMb,
  });
  await raw.close();

  // End to end: API and worker together on this machine (they share its cores), Event at full
  // speed; the rate is accepted events over the time until the last one has run.
  const e2eRss = rssPeaks([api.pid, worker.pid]);
  const e2eStart = performance.now();
  const e2eLoad = await autocannon({ ...scenarios[3].opts, connections: CONNECTIONS, duration: DURATION_S });
  await untilEmpty(events, 20);
  const e2ePerSec = Math.round(e2eLoad.requests.total / ((performance.now() - e2eStart) / 1000));
  const [e2eApiRss, e2eWorkerRss] = e2eRss.stop();
  rows.push({
    name: 'invoq end to end (Event + worker, together)',
    perSec: e2ePerSec,
    errors: e2eLoad.errors + e2eLoad.timeouts + e2eLoad.non2xx,
    rssMaxMb: e2eApiRss,
    workerRssMaxMb: e2eWorkerRss,
  });

  // Enqueue-to-start, from the API's receipt to the run's start on the worker: events sent evenly
  // at half of the end-to-end capacity, and at 100/s.
  const halfCapacity = Math.round(e2ePerSec / 2);
  for (const rate of [halfCapacity, 100]) {
    const since = Date.now();
    const paced = await sendPaced(scenarios[3].opts, rate, DURATION_S);
    await untilEmpty(events, 50);
    const recent = await events.getJobs(['completed'], 0, rate * DURATION_S + 1000);
    const latencies = recent
      .filter((j) => j.data.receivedAt >= since)
      .map((j) => j.processedOn - j.data.receivedAt)
      .sort((a, b) => a - b);
    rows.push({
      name: `invoq enqueue-to-start (${latencies.length} events at ${rate}/s${rate === halfCapacity ? ', half capacity' : ''})`,
      perSec: null,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors: paced.errors + Math.max(0, paced.sent - latencies.length),
    });
  }
  await events.close();

  // The same at the same rates for the toy, its API beside a raw BullMQ worker (BullMQ's add and
  // start stamps), so the figures above can be read against what this machine gives a hand-rolled
  // tier. invoq's own API and worker stay up, idle.
  const toyLatencyPort = await freePort();
  await start('bench/toy-async.mjs', { PORT: String(toyLatencyPort), REDIS_URL: redis.url, QUEUE: 'toy-latency' });
  const toyWorker = await start('bench/raw-bullmq-worker.mjs', {
    REDIS_URL: redis.url,
    QUEUE: 'toy-latency',
    PREFIX: '{bench-toy}',
    CONCURRENCY: String(WORKER_CONCURRENCY),
    REPORT_LATENCIES: '1',
  });
  const toyQueue = new Queue('toy-latency', { connection: { url: redis.url }, prefix: '{bench-toy}' });
  for (const rate of [halfCapacity, 100]) {
    const paced = await sendPaced(post(`http://127.0.0.1:${toyLatencyPort}/event`), rate, DURATION_S);
    await untilEmpty(toyQueue, 50);
    const reported = new Promise((resolve) => toyWorker.once('message', resolve));
    toyWorker.send('latencies');
    const latencies = (await reported).latencies.sort((a, b) => a - b);
    rows.push({
      name: `toy enqueue-to-start (${latencies.length} events at ${rate}/s, the same rate)`,
      perSec: null,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errors: paced.errors + Math.max(0, paced.sent - latencies.length),
    });
  }
  await toyQueue.close();

  const byName = new Map(rows.map((r) => [r.name, r]));
  const table = rows.map((r) => {
    const base = r.baseline ? byName.get(r.baseline) : undefined;
    return {
      name: r.name,
      'per s': r.perSec,
      'p50 ms': r.p50Ms ?? null,
      'p99 ms': r.p99Ms ?? null,
      errors: r.errors,
      'vs baseline': r.ratio !== undefined ? +r.ratio.toFixed(2) : base && r.perSec ? +(r.perSec / base.perSec).toFixed(2) : null,
      'p99 vs baseline': r.p99Ratio !== undefined ? +r.p99Ratio.toFixed(2) : null,
      'API RSS max MB': r.rssMaxMb ?? null,
      'worker RSS max MB': r.workerRssMaxMb ?? null,
    };
  });
  console.log(
    `\n${CONNECTIONS} connections, ${WARMUP_S} s warm-up, ${ROUNDS} interleaved rounds of ${DURATION_S} s (medians; HTTP ratios are medians of per-round ratios), node ${process.version}`,
  );
  console.table(table);
  const eventVsToy = median(runs.get('invoq Event invoke (echo)').map((x, i) => x.reqPerSec / runs.get('toy async (express + Queue.add)')[i].reqPerSec));
  console.log(`toy async vs bare echo: ${toyRatio.toFixed(2)}; invoq Event vs toy async: ${eventVsToy.toFixed(2)}`);
  const out = path.join(root, 'bench', 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        at: new Date().toISOString(),
        node: process.version,
        connections: CONNECTIONS,
        durationS: DURATION_S,
        rounds: ROUNDS,
        table,
        toyVsBare: toyRatio,
        eventVsToy,
        runs: Object.fromEntries(runs),
        drains,
      },
      null,
      2,
    ),
  );
  console.log(`written ${path.relative(root, out)}`);
  if (rows.some((r) => r.errors > 0)) process.exitCode = 1;
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : null)));
  await redis.stop();
}
