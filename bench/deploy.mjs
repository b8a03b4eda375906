// `npm run bench:deploy`: how fast a function deployed through Lambda's management API (the SDK
// v3) is served, on loopback, by two API processes and a worker forked from the built dist, each
// with its own code cache (as replicas on separate machines), sharing a private redis-server.
// Auth is on: the SDK signs with an admin INVOQ_AWS_CREDENTIALS pair. Over DEPLOY_ROUNDS rounds
// (default 20, after one warm-up round) and for each zip size of DEPLOY_SIZES (tiny,realistic):
//   create → first Invoke answered by API A (the one created through) and by API B;
//   UpdateFunctionCode through A → first Invoke through B answering the new code;
//   create → an Event sent through B as soon as B accepts it → the handler's start on the worker;
//   the first Invoke after an UpdateFunctionConfiguration (a new environment, the code already
//   extracted) against the warm one right after it;
// and, to tell what dominates: extractArchive of each zip alone, the SDK's round trip, and a
// folder function's first call after the API starts. Prints a table; JSON under bench/results/.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { strToU8, zipSync } from 'fflate';
import { freePort, startRedisServer } from '../scripts/local-redis.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { LAMBDA_CODE_LIMITS, extractArchive } = require(path.join(root, 'packages/core/dist/index.js'));

const ROUNDS = Number(process.env.DEPLOY_ROUNDS ?? 20);
const SIZES = (process.env.DEPLOY_SIZES ?? 'tiny,realistic').split(',').map((s) => s.trim());
const DEADLINE_MS = Number(process.env.DEPLOY_DEADLINE_MS ?? 15 * 60_000);
const POLL_MS = 5;
const admin = { accessKeyId: 'AKIDBENCHDEPLOY', secretAccessKey: 'bench-deploy-secret' };
for (const size of SIZES) if (!['tiny', 'realistic'].includes(size)) throw new Error(`DEPLOY_SIZES: unknown size ${size} (tiny, realistic)`);

const began = Date.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(path.join(tmpdir(), 'invoq-bench-deploy-'));
const marks = path.join(work, 'marks');
mkdirSync(marks);

async function until(check, what, everyMs = POLL_MS) {
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - began > DEADLINE_MS) throw new Error(`gave up waiting for ${what} (DEPLOY_DEADLINE_MS)`);
    await sleep(everyMs);
  }
}

// The realistic package's node_modules: 40 packages of 10 modules, each ~9 KB of base64 text (a
// string constant), the same in every round; plus a 2 MB incompressible blob, stored.
const depFiles = {};
for (let p = 0; p < 40; p++) {
  const dir = `node_modules/dep-${p}`;
  depFiles[`${dir}/package.json`] = strToU8(JSON.stringify({ name: `dep-${p}`, version: '1.0.0', main: 'index.js' }));
  depFiles[`${dir}/index.js`] = strToU8(`module.exports = [${Array.from({ length: 9 }, (_, i) => `require('./lib/m${i}.js')`).join(', ')}];\n`);
  for (let m = 0; m < 9; m++) depFiles[`${dir}/lib/m${m}.js`] = strToU8(`module.exports = ${JSON.stringify(randomBytes(6900).toString('base64'))};\n`);
}
const blob = randomBytes(2 * 1024 * 1024);

/** A deployment package answering its revision `rev` (and BENCH_ENV); `event.mark` names a file the handler writes Date.now() into. */
function packageZip(size, rev) {
  const index = `${size === 'realistic' ? "const deps = require('dep-0'); require('dep-1');\n" : ''}const REV = ${JSON.stringify(rev)};
exports.handler = async (event) => {
  if (event && event.mark) require('node:fs').writeFileSync(event.mark, String(Date.now()));
  return { code: REV, env: process.env.BENCH_ENV ?? null };
};
`;
  const files = { 'index.js': strToU8(index) };
  if (size === 'realistic') Object.assign(files, depFiles, { 'data/blob.bin': [blob, { level: 0 }] });
  return Buffer.from(zipSync(files, { level: 6 }));
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: s.at(-1) };
};

const children = [];
let redis;
const clients = [];
let stopping;
async function stopAll() {
  stopping ??= (async () => {
    for (const c of clients) c.destroy();
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }),
    );
    await redis?.stop().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  })();
  return stopping;
}
// The overall deadline: whatever hangs, everything started is stopped and the bench fails.
const watchdog = setTimeout(() => {
  console.error(`deploy bench: over its ${DEADLINE_MS} ms deadline; stopping`);
  void stopAll().finally(() => process.exit(1));
}, DEADLINE_MS + 30_000);
watchdog.unref();

function start(name, script, env, readyUrl) {
  const child = fork(path.join(root, script), [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  child.once('exit', (code, signal) => {
    if (!stopping) console.error(`${name} exited (${code ?? signal}) during the bench`);
  });
  return until(
    () =>
      fetch(readyUrl).then(
        (r) => r.ok,
        () => false,
      ),
    `${name} to be ready`,
    50,
  );
}

const isNotFound = (e) => e instanceof ResourceNotFoundException || e?.$metadata?.httpStatusCode === 404;
/** One sync Invoke: its answer (the handler's JSON), or undefined on a 404. */
async function invoke(client, name) {
  try {
    const out = await client.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from('{}') }));
    if (out.FunctionError) throw new Error(`${name} failed: ${Buffer.from(out.Payload).toString()}`);
    return JSON.parse(Buffer.from(out.Payload).toString());
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
const timedInvoke = async (client, name) => {
  const t0 = performance.now();
  const body = await invoke(client, name);
  return { body, ms: performance.now() - t0 };
};
/** Until $LATEST's last change settled (UpdateFunctionCode / Configuration refuse before). */
const settled = (client, name) =>
  until(
    async () => {
      const got = await client.send(new GetFunctionCommand({ FunctionName: name }));
      return got.Configuration.State === 'Active' && got.Configuration.LastUpdateStatus === 'Successful';
    },
    `${name} to settle`,
    20,
  );
const createInput = (name, zip) => ({
  FunctionName: name,
  Runtime: 'nodejs20.x',
  Role: 'arn:aws:iam::000000000000:role/bench',
  Handler: 'index.handler',
  Code: { ZipFile: zip },
});

/** One round for one size: every measure, each function deleted at the end. */
async function round(a, b, size, n) {
  const name = `bench-${size}-${n}`;
  const eventName = `${name}-event`;
  const tag = randomBytes(4).toString('hex'); // a new code hash every round: never in any cache yet
  const v1 = packageZip(size, `${tag}-v1`);
  const v2 = packageZip(size, `${tag}-v2`);
  const e1 = packageZip(size, `${tag}-e1`);
  const out = { zipBytes: v1.length };
  try {
    // 1 and 2: polled side by side from the moment CreateFunction is sent.
    const t0 = performance.now();
    // The first call that answered the code: when it ended, and how long it took itself (a cold start).
    const firstBy = (client, rev) =>
      until(async () => {
        const sent = performance.now();
        const r = await invoke(client, name);
        const ended = performance.now();
        return r?.code === rev && { at: ended - t0, ms: ended - sent };
      }, `${name} on an API`);
    const [created, byA, byB] = await Promise.all([
      a.send(new CreateFunctionCommand(createInput(name, v1))).then(() => performance.now() - t0),
      firstBy(a, `${tag}-v1`),
      firstBy(b, `${tag}-v1`),
    ]);
    Object.assign(out, {
      createAnsweredMs: created,
      firstInvokeSameApiMs: byA.at,
      firstCallSameApiMs: byA.ms,
      firstInvokeOtherApiMs: byB.at,
      firstCallOtherApiMs: byB.ms,
    });

    // The same request refused before extraction (the name exists): the SDK, the upload, auth and parsing alone.
    const t3 = performance.now();
    const refused = await a.send(new CreateFunctionCommand(createInput(name, v1))).then(
      () => new Error('a second CreateFunction of one name succeeded'),
      (e) => (e.name === 'ResourceConflictException' ? undefined : e),
    );
    if (refused) throw refused;
    out.createRefusedMs = performance.now() - t3;

    // 3: the new code through the other API.
    await settled(a, name);
    const t1 = performance.now();
    const updating = a.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: v2 })).then(() => performance.now() - t1);
    const newCode = await until(async () => {
      const sent = performance.now();
      const r = await invoke(b, name);
      const ended = performance.now();
      return r?.code === `${tag}-v2` && { at: ended - t1, ms: ended - sent };
    }, 'the new code on API B');
    Object.assign(out, { newCodeOtherApiMs: newCode.at, newCodeCallMs: newCode.ms });
    out.updateAnsweredMs = await updating;

    // 5: a configuration change: a new environment for code already extracted, on API A.
    await settled(a, name);
    if ((await invoke(a, name))?.code !== `${tag}-v2`) throw new Error('API A does not serve the new code');
    await a.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: { BENCH_ENV: tag } } }));
    const cold = await until(async () => {
      const r = await timedInvoke(a, name);
      return r.body?.env === tag && r;
    }, 'the new configuration on API A');
    const warm = await timedInvoke(a, name);
    Object.assign(out, { coldInvokeMs: cold.ms, warmInvokeMs: warm.ms });

    // 4: an Event through B, sent as soon as B accepts it, until the handler starts on the worker.
    const mark = path.join(marks, eventName);
    const payload = Buffer.from(JSON.stringify({ mark }));
    const t2 = Date.now();
    const [eventCreated, accepted] = await Promise.all([
      a.send(new CreateFunctionCommand(createInput(eventName, e1))).then(() => Date.now() - t2),
      until(async () => {
        try {
          await b.send(new InvokeCommand({ FunctionName: eventName, InvocationType: 'Event', Payload: payload }));
          return Date.now();
        } catch (e) {
          if (isNotFound(e)) return false;
          throw e;
        }
      }, 'API B to accept the event'),
    ]);
    const startedAt = await until(() => existsSync(mark) && readFileSync(mark, 'utf8') !== '' && Number(readFileSync(mark, 'utf8')), 'the event to run');
    Object.assign(out, { eventCreateAnsweredMs: eventCreated, eventAcceptedMs: accepted - t2, firstEventRunMs: startedAt - t2 });
  } finally {
    for (const fn of [name, eventName]) {
      await a.send(new DeleteFunctionCommand({ FunctionName: fn })).catch((e) => {
        if (!isNotFound(e)) throw e;
      });
    }
  }
  return out;
}

const measures = [
  ['createAnsweredMs', 'CreateFunction answered (A)'],
  ['createRefusedMs', 'the same CreateFunction refused (exists): no extraction'],
  ['firstInvokeSameApiMs', '1. create → first invoke, same API (A)'],
  ['firstCallSameApiMs', '   A: that first call alone'],
  ['firstInvokeOtherApiMs', '2. create → first invoke, other API (B)'],
  ['otherApiAfterAnswerMs', '   B: after A answered'],
  ['firstCallOtherApiMs', '   B: that first call alone'],
  ['updateAnsweredMs', 'UpdateFunctionCode answered (A)'],
  ['newCodeOtherApiMs', '3. update code (A) → new code served by B'],
  ['newCodeAfterAnswerMs', '   after A answered'],
  ['newCodeCallMs', '   that first call alone'],
  ['eventCreateAnsweredMs', 'CreateFunction answered (A, no sync polling)'],
  ['eventAcceptedMs', 'create → Event accepted by B'],
  ['firstEventRunMs', '4. create → first event run (worker)'],
  ['coldInvokeMs', '5. first invoke after a config change (cold)'],
  ['warmInvokeMs', '5. the invoke right after it (warm)'],
  ['coldMinusWarmMs', '5. cold − warm'],
];

try {
  // extractArchive alone, as each process does once per code hash (before anything else runs, and
  // before the SDK's connections exist: an idle keep-alive socket past the server's 5 s is a race).
  const results = {};
  for (const size of SIZES) {
    const zip = packageZip(size, 'extract');
    const extract = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const done = await extractArchive(zip, path.join(work, `extract-${size}-${i}`), LAMBDA_CODE_LIMITS);
      extract.push(performance.now() - t0);
      if (i === 0) results[size] = { zipBytes: zip.length, entries: done.entries, unzippedBytes: done.unzippedBytes };
      rmSync(path.join(work, `extract-${size}-${i}`), { recursive: true, force: true });
    }
    results[size].extractMs = stats(extract);
  }
  redis = await startRedisServer();
  const cacheOf = (who) => {
    const dir = path.join(work, `code-${who}`);
    mkdirSync(dir);
    return dir;
  };
  const functionsDir = path.join(work, 'functions');
  mkdirSync(path.join(functionsDir, 'folderfn'), { recursive: true });
  writeFileSync(path.join(functionsDir, 'folderfn', 'function.json'), JSON.stringify({ handler: 'index.handler' }));
  writeFileSync(path.join(functionsDir, 'folderfn', 'index.js'), "exports.handler = async () => ({ code: 'folder', env: null });\n");
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    INVOQ_QUEUE_PREFIX: 'bench',
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_AWS_CREDENTIALS: `${admin.accessKeyId}:${admin.secretAccessKey}:admin`,
    LOG_LEVEL: process.env.DEPLOY_LOG_LEVEL ?? 'error',
    HOST: '127.0.0.1',
  };
  const [portA, portB, metricsA, metricsB, metricsW] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const apiEnv = (port, metrics, who) => ({ ...env, PORT: String(port), INVOQ_METRICS_PORT: String(metrics), INVOQ_CODE_CACHE_DIR: cacheOf(who) });
  await Promise.all([
    start('API A', 'apps/api/dist/main.js', apiEnv(portA, metricsA, 'a'), `http://127.0.0.1:${portA}/readyz`),
    start('API B', 'apps/api/dist/main.js', apiEnv(portB, metricsB, 'b'), `http://127.0.0.1:${portB}/readyz`),
    start(
      'the worker',
      'apps/worker/dist/main.js',
      { ...env, INVOQ_METRICS_PORT: String(metricsW), INVOQ_CODE_CACHE_DIR: cacheOf('worker') },
      `http://127.0.0.1:${metricsW}/readyz`,
    ),
  ]);
  // The SDK keeps idle sockets for ever; Node's server closes them after 5 s (keepAliveTimeout), and
  // a request sent on one as it closes fails (ECONNRESET / EPIPE). No retries here (they would hide
  // in the timings), so idle sockets are dropped client-side first.
  const client = (port) =>
    new LambdaClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: admin,
      maxAttempts: 1,
      requestHandler: { httpAgent: new http.Agent({ keepAlive: true, timeout: 3000 }) },
    });
  const a = client(portA);
  const b = client(portB);
  clients.push(a, b);

  // A folder function's first call after its API started (one per API), then the next.
  const folder = [];
  for (const c of [a, b]) {
    const first = await timedInvoke(c, 'folderfn');
    const next = await timedInvoke(c, 'folderfn');
    folder.push({ coldInvokeMs: first.ms, warmInvokeMs: next.ms });
  }
  // The SDK's round trip on a warm connection (a GetFunction of a folder function).
  const sdk = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    await a.send(new GetFunctionCommand({ FunctionName: 'folderfn' }));
    sdk.push(performance.now() - t0);
  }

  for (const size of SIZES) {
    await round(a, b, size, 0); // warm-up, not counted
    const rounds = [];
    for (let n = 1; n <= ROUNDS; n++) {
      const r = await round(a, b, size, n);
      r.coldMinusWarmMs = r.coldInvokeMs - r.warmInvokeMs;
      // What B took after A answered: the notification, B's read of the zip from Redis, its extraction, a cold start.
      r.otherApiAfterAnswerMs = r.firstInvokeOtherApiMs - r.createAnsweredMs;
      r.newCodeAfterAnswerMs = r.newCodeOtherApiMs - r.updateAnsweredMs;
      rounds.push(r);
      process.stderr.write(`${size} ${n}/${ROUNDS}\r`);
    }
    results[size].measures = Object.fromEntries(measures.map(([key]) => [key, stats(rounds.map((r) => r[key]))]));
    results[size].rounds = rounds;
  }

  const fmt = (x) => (x >= 100 ? String(Math.round(x)) : x.toFixed(1));
  const rows = [];
  for (const size of SIZES) {
    const r = results[size];
    rows.push([`${size}: zip ${(r.zipBytes / 1e6).toFixed(2)} MB, ${r.entries} entries, ${(r.unzippedBytes / 1e6).toFixed(2)} MB unzipped`, '', '', '']);
    rows.push(['  extractArchive alone (10×)', fmt(r.extractMs.p50), fmt(r.extractMs.p95), fmt(r.extractMs.max)]);
    for (const [key, label] of measures) rows.push([`  ${label}`, fmt(r.measures[key].p50), fmt(r.measures[key].p95), fmt(r.measures[key].max)]);
  }
  const s = stats(sdk);
  rows.push(['SDK round trip (GetFunction, warm, 50×)', fmt(s.p50), fmt(s.p95), fmt(s.max)]);
  folder.forEach((f, i) =>
    rows.push([`folder function, first call after API ${'AB'[i]} started / next`, `${fmt(f.coldInvokeMs)} / ${fmt(f.warmInvokeMs)}`, '', '']),
  );
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`node ${process.version}, ${ROUNDS} rounds (after a warm-up), ms:`);
  console.log(`${'measure'.padEnd(width)}  ${'p50'.padStart(8)}  ${'p95'.padStart(8)}  ${'max'.padStart(8)}`);
  for (const [label, ...cells] of rows) console.log(`${label.padEnd(width)}  ${cells.map((c) => c.padStart(8)).join('  ')}`);

  const outFile = path.join(root, 'bench', 'results', `deploy-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(outFile), { recursive: true });
  writeFileSync(
    outFile,
    JSON.stringify({ at: new Date().toISOString(), node: process.version, rounds: ROUNDS, auth: 'on (SigV4, admin pair)', results, sdk: s, folder }, null, 2),
  );
  console.log(`results: ${path.relative(root, outFile)}`);
} finally {
  await stopAll();
  clearTimeout(watchdog);
}
