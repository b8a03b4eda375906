/**
 * invoq on a real (local, 3-master) Redis Cluster that requires a password: two API and two
 * worker processes configured with REDIS_CLUSTER_NODES and REDIS_PASSWORD only. Sync and async invokes across the APIs, retries into the DLQ and
 * a redrive, every key hash-tagged per function with the functions spread over the masters, and a
 * worker SIGKILLed mid-stream losing nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import IORedis from 'ioredis';
import { freePort, makeFunctionsDir, uniquePrefix, waitFor } from '../support/harness';
import { spawnTier, stopProcess } from '../support/processes';
import { OwnRedisCluster } from '../support/redis-cluster';

const missing = OwnRedisCluster.missing();
const mustRun = process.env.CI === 'true';
if (missing.length > 0 && !mustRun) {
  console.warn(`SKIPPED test/e2e/redis-cluster.test.ts: ${missing.join(', ')} not on PATH (apt-get install redis-server to run it)`);
}
const suite = missing.length > 0 && !mustRun ? describe.skip : describe;

let markerDir: string;
/** Appends `<pid> <what>` to the marker file of `event.id`: who ran what, across processes. */
const mark = (what: string) =>
  `require('node:fs').appendFileSync(require('node:path').join(process.env.MARKER_DIR, String(event.id)), process.pid + ' ${what}\\n');`;
const echo = { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (event) => event;' } };
const SPREAD = ['orders', 'billing', 'emails', 'thumbnails', 'search', 'audit'];
const makeFunctions = () =>
  makeFunctionsDir({
    echo,
    ...Object.fromEntries(SPREAD.map((name) => [name, echo])),
    // Throws on every attempt (2 retries: 3 attempts) until the test writes the `healed` marker.
    doomed: {
      config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 2 }, environment: { MARKER_DIR: markerDir } },
      files: {
        'index.js': `exports.handler = async (event) => { ${mark('run')} if (!require('node:fs').existsSync(process.env.MARKER_DIR + '/healed')) throw new Error('still broken'); return 'healed'; };`,
      },
    },
    // One run at a time across every process (leases in Redis); each run records its interval.
    limited: {
      config: { handler: 'index.handler', reservedConcurrency: 1, environment: { MARKER_DIR: markerDir } },
      files: {
        'index.js': `exports.handler = async (event) => { const start = Date.now(); await new Promise((r) => setTimeout(r, 300)); require('node:fs').appendFileSync(process.env.MARKER_DIR + '/limited', start + ' ' + Date.now() + '\\n'); return event; };`,
      },
    },
    slow: {
      config: { handler: 'index.handler', timeout: 10, environment: { MARKER_DIR: markerDir } },
      files: {
        'index.js': `exports.handler = async (event) => { ${mark('start')} await new Promise((r) => setTimeout(r, 100)); ${mark('end')} return event.id; };`,
      },
    },
  });
const marks = (id: string): string[] => {
  const file = path.join(markerDir, id);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
};

const CLUSTER_PASSWORD = 'cluster-secret';
let functionsDir: string | undefined;
let cluster: OwnRedisCluster | undefined;
let prefix: string;
const apis: Array<{ child: ChildProcess; base: string }> = [];
const workers: Array<{ child: ChildProcess; metrics: number }> = [];

/** Resolves once GET `url` answers 200; fails at once if `child` exits first. */
async function ready(child: ChildProcess, url: string, what: string): Promise<void> {
  await waitFor(
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready`);
      return fetch(url).then(
        (r) => r.status === 200,
        () => false,
      );
    },
    15_000,
    `${what} to be ready`,
  );
}

async function invoke(api: number, fn: string, body: unknown, type: 'RequestResponse' | 'Event' = 'Event') {
  return fetch(`${apis[api]!.base}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    headers: { 'x-amz-invocation-type': type },
    body: JSON.stringify(body),
  });
}
async function fire(api: number, fn: string, body: unknown): Promise<string> {
  const res = await invoke(api, fn, body);
  expect(res.status).toBe(202);
  return res.headers.get('x-amzn-requestid')!;
}
async function status(api: number, id: string, wait?: number): Promise<Record<string, any>> {
  const res = await fetch(`${apis[api]!.base}/invocations/${id}${wait === undefined ? '' : `?wait=${wait}`}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
}

suite('on a 3-master Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  beforeAll(async () => {
    if (missing.length > 0)
      throw new Error(`CI: ${missing.join(', ')} not on PATH; the Redis Cluster test needs the system redis-server (apt-get install redis-server)`);
    markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-cluster-marks-'));
    functionsDir = makeFunctions();
    cluster = await OwnRedisCluster.start(15_000, { password: CLUSTER_PASSWORD });
    prefix = uniquePrefix('cluster');
    const common = {
      REDIS_CLUSTER_NODES: cluster.nodes,
      REDIS_PASSWORD: CLUSTER_PASSWORD,
      INVOQ_FUNCTIONS_DIR: functionsDir,
      INVOQ_QUEUE_PREFIX: prefix,
      INVOQ_RETRY_BASE_DELAY_MS: '100',
    };
    for (let i = 0; i < 2; i += 1) {
      const [port, metrics] = [await freePort(), await freePort()];
      apis.push({ child: spawnTier('api', { ...common, PORT: String(port), INVOQ_METRICS_PORT: String(metrics) }), base: `http://127.0.0.1:${port}` });
    }
    for (let i = 0; i < 2; i += 1) {
      const [port, metrics] = [await freePort(), await freePort()];
      workers.push({
        child: spawnTier('worker', { ...common, PORT: String(port), INVOQ_METRICS_PORT: String(metrics), INVOQ_WORKER_CONCURRENCY: '4' }),
        metrics,
      });
    }
    await Promise.all([
      ...apis.map((a, i) => ready(a.child, `${a.base}/readyz`, `API ${i + 1}`)),
      ...workers.map((w, i) => ready(w.child, `http://127.0.0.1:${w.metrics}/readyz`, `worker ${i + 1}`)),
    ]);
  }, 40_000);

  afterAll(async () => {
    // SIGTERM (a clean stop on the cluster too), SIGKILL if one hangs past 10 s.
    await Promise.all(
      [...apis, ...workers].map(async ({ child }) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await stopProcess(child);
        clearTimeout(timer);
      }),
    );
    await cluster?.stop();
    if (functionsDir) fs.rmSync(functionsDir, { recursive: true, force: true });
    if (markerDir) fs.rmSync(markerDir, { recursive: true, force: true });
  }, 30_000);

  it('a sync invoke through either API returns the echo', async () => {
    for (const api of [0, 1]) {
      const res = await invoke(api, 'echo', { hello: `api ${api + 1}`, n: [1, 2] }, 'RequestResponse');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-function-error')).toBeNull();
      expect(await res.json()).toEqual({ hello: `api ${api + 1}`, n: [1, 2] });
    }
  });

  it('an Event sent to API 1 is run by a worker; API 2 reads it succeeded', async () => {
    const id = await fire(0, 'echo', { via: 'api 1' });
    expect(await status(1, id, 10)).toMatchObject({ requestId: id, functionName: 'echo', status: 'succeeded', attempts: 1, result: { via: 'api 1' } });
  });

  it('a failing event goes through its retries to the DLQ; the other API reads and redrives it', async () => {
    const id = await fire(0, 'doomed', { id: 'doomed-1' });
    const others = [await fire(1, 'doomed', { id: 'doomed-2' }), await fire(0, 'doomed', { id: 'doomed-3' })];
    const dead = await status(1, id, 15);
    expect(dead).toMatchObject({ status: 'dead-lettered', reason: 'RetriesExhausted', attempts: 3 });
    expect(dead.history.map((h: any) => [h.attempt, h.outcome])).toEqual([
      [1, 'error'],
      [2, 'error'],
      [3, 'error'],
    ]);
    expect(marks('doomed-1')).toHaveLength(3);

    for (const api of [1, 0]) {
      const res = await fetch(`${apis[api]!.base}/dlq/${id}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        requestId: id,
        functionName: 'doomed',
        payload: { id: 'doomed-1' },
        attempts: 3,
        reason: 'RetriesExhausted',
        error: { errorType: 'Error', errorMessage: 'still broken' },
      });
    }
    for (const other of others) expect(await status(1, other, 15)).toMatchObject({ status: 'dead-lettered' });
    const listed: any = await (await fetch(`${apis[1]!.base}/dlq?functionName=doomed`)).json();
    expect(listed.items.map((item: any) => item.requestId).sort()).toEqual([id, ...others].sort());

    fs.writeFileSync(path.join(markerDir, 'healed'), '');
    const redrive = await fetch(`${apis[1]!.base}/dlq/${id}/redrive`, { method: 'POST' });
    expect(redrive.status).toBe(202);
    const healed = await status(0, id, 15);
    expect(healed).toMatchObject({ status: 'succeeded', result: 'healed', attempts: 1 });
    expect(healed.redrives).toEqual([
      expect.objectContaining({ reason: 'RetriesExhausted', attempts: 3, error: { errorType: 'Error', errorMessage: 'still broken' } }),
    ]);
    expect(marks('doomed-1')).toHaveLength(4);
    expect((await fetch(`${apis[0]!.base}/dlq/${id}`)).status).toBe(404);

    // The bulk redrive's snapshot, cursor and lease are scripts on the function's slot.
    const bulk: any = await (await fetch(`${apis[0]!.base}/dlq/redrive`, { method: 'POST', body: '{"functionName":"doomed"}' })).json();
    expect(bulk).toMatchObject({ redriven: 2, redrives: [{ functionName: 'doomed', total: 2 }] });
    const progress = await waitFor(
      async () => {
        const p: any = await (await fetch(`${apis[1]!.base}${bulk.redrives[0].statusUrl}`)).json();
        return p.state === 'finished' && p;
      },
      15_000,
      'the bulk redrive to finish',
    );
    expect(progress).toMatchObject({ total: 2, done: 2, skipped: 0 });
    for (const other of others) expect(await status(0, other, 15)).toMatchObject({ status: 'succeeded', result: 'healed' });
  });

  it('every key carries its function hash tag, and the functions spread over the masters', async () => {
    // The nodes really require the password the tiers were given.
    const stranger = new IORedis({
      host: '127.0.0.1',
      port: cluster!.ports[0]!,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    stranger.on('error', () => undefined);
    await expect(stranger.connect().then(() => stranger.get('x'))).rejects.toThrow(/NOAUTH/);
    stranger.disconnect();

    const ids = await Promise.all(SPREAD.map((fn, i) => fire(i % 2, fn, { fn })));
    for (const [i, id] of ids.entries()) expect(await status((i + 1) % 2, id, 10)).toMatchObject({ status: 'succeeded', result: { fn: SPREAD[i] } });

    const keysByPort = new Map<number, string[]>();
    for (const port of cluster!.ports) {
      const node = cluster!.nodeClient(port);
      try {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          keys.push(...batch);
          cursor = next;
        } while (cursor !== '0');
        keysByPort.set(port, keys);
      } finally {
        node.disconnect();
      }
    }
    const all = [...keysByPort.values()].flat();
    expect(all.length).toBeGreaterThan(0);
    // `<prefix>:{fn}…`: the tag right after the prefix, naming one of our functions (the event
    // queue is `<prefix>:{fn}:…`, its destination queue `<prefix>:{fn}-destinations:…`).
    const functions = new Set(['echo', 'doomed', 'slow', 'limited', ...SPREAD]);
    const tagOf = (key: string) => (key.startsWith(`${prefix}:{`) ? key.slice(prefix.length + 2).split('}')[0]! : undefined);
    expect(all.filter((key) => !functions.has(tagOf(key) ?? ''))).toEqual([]);

    const nodesOf = (fn: string) => [...keysByPort].filter(([, keys]) => keys.some((k) => tagOf(k) === fn)).map(([port]) => port);
    for (const fn of SPREAD) expect(nodesOf(fn)).toHaveLength(1); // all of one function's keys on one master
    const masters = new Set(SPREAD.map((fn) => nodesOf(fn)[0]));
    expect(masters.size).toBeGreaterThanOrEqual(2);
    const tags = [...new Set(all.map((k) => tagOf(k)!))].sort();
    console.log(
      `redis-cluster: ${all.length} keys, tags ${tags.join(', ')}; ${SPREAD.length} functions over ${masters.size} masters (${[...keysByPort.values()].map((k) => k.length).join('/')} keys per node)`,
    );
  });

  it('reserved concurrency holds across both APIs: one run at a time, the rest 429', async () => {
    const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => invoke(i % 2, 'limited', { i }, 'RequestResponse')));
    const statuses = answers.map((r) => r.status);
    expect(statuses).toContain(200);
    expect(statuses).toContain(429);
    expect(statuses.every((code) => code === 200 || code === 429)).toBe(true);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
    expect(await refused.json()).toMatchObject({ Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
    const runs = fs
      .readFileSync(path.join(markerDir, 'limited'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ').map(Number) as [number, number]);
    expect(runs).toHaveLength(statuses.filter((code) => code === 200).length);
    const overlapping = runs.filter(([start], i) => runs.some(([s, e], j) => j !== i && s <= start && start < e));
    expect(overlapping).toEqual([]);
  });

  it('a worker SIGKILLed mid-stream loses nothing: every accepted event succeeds, on one attempt', async () => {
    const [w1, w2] = workers;
    const pid1 = String(w1!.child.pid);
    const bodies = Array.from({ length: 100 }, (_, i) => ({ id: `slow-${i}` }));
    const ids: string[] = [];
    for (let i = 0; i < bodies.length; i += 20) ids.push(...(await Promise.all(bodies.slice(i, i + 20).map((body, k) => fire((i + k) % 2, 'slow', body)))));
    expect(new Set(ids).size).toBe(100);

    // Kill worker 1 once the stream is under way and it is running events right now.
    const inFlightOn1 = () =>
      bodies.filter(({ id }) => {
        const m = marks(id);
        return m.includes(`${pid1} start`) && !m.includes(`${pid1} end`);
      });
    await waitFor(
      () => bodies.filter(({ id }) => marks(id).some((m) => m.endsWith(' end'))).length >= 10 && inFlightOn1().length > 0,
      15_000,
      'worker 1 to be running events mid-stream',
    );
    await stopProcess(w1!.child, 'SIGKILL');
    const interrupted = inFlightOn1().map(({ id }) => id);
    expect(interrupted.length).toBeGreaterThan(0);
    expect(w2!.child.exitCode).toBeNull();

    // The killed worker's events come back once its locks lapse (~10-20 s) and run on worker 2.
    const finished = new Map<string, Record<string, any>>();
    const deadline = Date.now() + 40_000;
    while (finished.size < ids.length && Date.now() < deadline) {
      const pending = ids.filter((id) => !finished.has(id));
      const seen = await Promise.all(pending.map((id, i) => status(i % 2, id, 3)));
      for (const s of seen) if (s.status === 'succeeded' || s.status === 'dead-lettered') finished.set(s.requestId, s);
    }
    expect(ids.filter((id) => finished.get(id)?.status !== 'succeeded')).toEqual([]);
    // A re-run after a lost worker spends no attempt.
    expect(ids.filter((id) => finished.get(id)!.attempts !== 1)).toEqual([]);
    for (const [i, id] of ids.entries()) expect(finished.get(id)!.result).toBe(`slow-${i}`);
    for (const id of interrupted) expect(marks(id)).toContain(`${w2!.child.pid} end`);
    console.log(`redis-cluster: 100 events, worker 1 SIGKILLed with ${interrupted.length} running; all re-ran on worker 2, none lost`);
  }, 60_000);
});
