// `npm run bench:redrive`: a bulk redrive of a large DLQ (REDRIVE_ENTRIES, default 20,000) of a
// function that still fails, with a real API and worker process (defaults otherwise). Reports how
// fast POST /dlq/redrive answers, how fast the redrive goes, the most events it left waiting, how
// long live events of the same and of another function waited meanwhile (send → handler start),
// and whether each entry ran exactly once more. Loopback only.
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { EventProducer, EventQueues, closeRedis, createRedisConnection, waitForRedis } = require(path.join(root, 'packages/core/dist/index.js'));

const ENTRIES = Number(process.env.REDRIVE_ENTRIES ?? 20_000);
const DEADLINE_MS = 600_000;
const work = mkdtempSync(path.join(tmpdir(), 'invoq-redrive-'));
const marks = path.join(work, 'marks');
mkdirSync(marks);
const fn = (name, body, config = {}) => {
  mkdirSync(path.join(work, 'functions', name), { recursive: true });
  writeFileSync(path.join(work, 'functions', name, 'function.json'), JSON.stringify({ handler: 'index.handler', circuitBreaker: false, ...config }));
  writeFileSync(path.join(work, 'functions', name, 'index.js'), `exports.handler = async (event) => { const fs = require('node:fs'); ${body} };`);
};
// A live event records when it started; every other run counts itself and fails.
fn(
  'broken',
  `if (event.live) { fs.writeFileSync('${marks}/' + event.live, String(Date.now())); return; } fs.appendFileSync('${marks}/runs', 'x'); throw new Error('still broken');`,
  { async: { maximumRetryAttempts: 0 } },
);
fn('other', `fs.writeFileSync('${marks}/' + event.live, String(Date.now()));`);
const read = (name) => (existsSync(path.join(marks, name)) ? readFileSync(path.join(marks, name), 'utf8') : '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const began = Date.now();
async function until(check, what, everyMs = 20) {
  while (!(await check())) {
    if (Date.now() - began > DEADLINE_MS) throw new Error(`gave up waiting for ${what}`);
    await sleep(everyMs);
  }
}

const redis = await startRedisServer({ aof: 'everysec' });
const connection = createRedisConnection(redis.url);
const queues = new EventQueues({ connection, prefix: 'bench', statusRetentionSeconds: 3600, dlqRetentionSeconds: 3600 });
const producer = new EventProducer(queues);
const env = {
  ...process.env,
  REDIS_URL: redis.url,
  INVOQ_QUEUE_PREFIX: 'bench',
  INVOQ_FUNCTIONS_DIR: path.join(work, 'functions'),
  LOG_LEVEL: 'error',
  INVOQ_AUTH: 'off',
  HOST: '127.0.0.1',
};
const children = [];
try {
  await waitForRedis(connection);
  for (let i = 0; i < ENTRIES; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, ENTRIES - i) }, () => producer.enqueue('broken', randomUUID(), '{}')));
  }
  const fillStarted = Date.now();
  children.push(fork(path.join(root, 'apps/worker/dist/main.js'), [], { env: { ...env, INVOQ_METRICS_PORT: String(await freePort()) }, stdio: 'inherit' }));
  await until(async () => (await connection.zcard('bench:{broken}:failed')) === ENTRIES, 'the DLQ to fill', 50);
  // The worker's own pace for these failing runs (its start included), to compare the redrive with.
  const fillSeconds = (Date.now() - fillStarted) / 1000;
  const port = await freePort();
  children.push(fork(path.join(root, 'apps/api/dist/main.js'), [], { env: { ...env, PORT: String(port) }, stdio: 'inherit' }));
  const base = `http://127.0.0.1:${port}`;
  await until(
    () =>
      fetch(`${base}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
    'the API',
  );

  const sent = Date.now();
  const started = await (await fetch(`${base}/dlq/redrive`, { method: 'POST', body: '{"functionName":"broken"}' })).json();
  const answerMs = Date.now() - sent;
  const progress = () => fetch(`${base}${started.redrives[0].statusUrl}`).then((r) => r.json());
  let mostWaiting = 0;
  const waits = { broken: [], other: [] };
  for (;;) {
    mostWaiting = Math.max(mostWaiting, await connection.llen('bench:{broken}:wait'));
    const p = await progress();
    if (p.state === 'finished') break;
    if (p.done > 0 && waits.broken.length < 40) {
      for (const name of ['broken', 'other']) {
        const id = randomUUID();
        const at = Date.now();
        const res = await fetch(`${base}/2015-03-31/functions/${name}/invocations`, {
          method: 'POST',
          headers: { 'x-amz-invocation-type': 'Event' },
          body: JSON.stringify({ live: id }),
        });
        if (res.status !== 202) throw new Error(`live event answered ${res.status}`);
        await until(() => read(id) !== '', 'a live event to start', 2);
        waits[name].push(Number(read(id)) - at);
      }
    }
    await sleep(250);
  }
  const done = await progress();
  await until(
    async () => (await connection.zcard('bench:{broken}:failed')) === ENTRIES && read('runs').length >= 2 * ENTRIES,
    'the redriven events to fail again',
    200,
  );
  const redriveSeconds = (Date.parse(done.finishedAt) - Date.parse(done.createdAt)) / 1000;
  const stats = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { n: s.length, p50: s[Math.floor(s.length / 2)], max: s.at(-1) };
  };
  const result = {
    entries: ENTRIES,
    answerMs,
    redriven: started.redriven,
    redriveSeconds,
    entriesPerSecond: Math.round(ENTRIES / redriveSeconds),
    workerFailingRunsPerSecond: Math.round(ENTRIES / fillSeconds),
    done: done.done,
    skipped: done.skipped,
    runsAfterRedrive: read('runs').length - ENTRIES,
    mostWaiting,
    liveWaitMs: { sameFunction: stats(waits.broken), otherFunction: stats(waits.other) },
  };
  console.log(`node ${process.version}`);
  console.log(JSON.stringify(result, null, 2));
  const out = path.join(root, 'bench', 'results', `redrive-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, ...result, waits }, null, 2));
  if (result.runsAfterRedrive !== ENTRIES || result.redriven !== ENTRIES || done.skipped !== 0) process.exitCode = 1;
} finally {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }
  await queues.close();
  await closeRedis(connection);
  await redis.stop();
}
