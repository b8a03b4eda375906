/**
 * What a newcomer does first: `npm start` (here its launcher, on the build `npm test` made), then
 * the seed's own commands, then Ctrl-C. As on many developers' machines, another Redis answers on
 * 127.0.0.1:6379: the machine's own, which this file only ever reads (SCAN for its own key
 * prefix), or, when none answers, a throwaway one it starts there. `npm start` must run on its
 * embedded Redis and write nothing into that one.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { startRedisServer, type RedisServer } from '../../scripts/local-redis.cjs';
import { serviceNodeFlags } from '@invoq/core';
import { REPO_ROOT, freePort, uniquePrefix, waitFor } from '../support/harness';
import { copyExampleFunctions } from '../support/example-functions';
import { startLauncher, type Launcher } from '../support/launcher';

/** The AWS CLI v2 (the seed's `--cli-binary-format` is a v2 option), or undefined. */
function awsCliV2(): string | undefined {
  for (const candidate of ['/usr/bin/aws', 'aws']) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.status === 0 && /aws-cli\/2\./.test(result.stdout + result.stderr)) return candidate;
  }
  return undefined;
}

/** Keys under `prefix`, by SCAN: read-only, and cheap enough on a shared Redis. */
async function keysUnder(redis: IORedis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

function readOnlyClient(url: string): IORedis {
  const client = new IORedis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => undefined);
  return client;
}

/** True when a Redis answers PING on `url`'s port (a raw probe: ioredis lingers after a refusal). */
function pingable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
    socket.once('error', () => done(false));
  });
}

/**
 * The Redis on 6379 during this file: the machine's, or one started here when nothing answers
 * (if another test run takes the port first, that one's server is used the same way: read only).
 */
async function otherRedisOn6379(dir: string): Promise<RedisServer | undefined> {
  if (await pingable('redis://127.0.0.1:6379')) return undefined;
  // Fails when another run binds 6379 first; then that one's server is the other Redis.
  return startRedisServer({ port: 6379, dir }).catch(() => undefined);
}

const prefix = uniquePrefix('start');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-start-data-'));
const functionsDir = copyExampleFunctions(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-start-fns-')), path.join(dataDir, 'orders'));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-start-6379-'));
let started6379: RedisServer | undefined;
let machineRedis: IORedis;
let launcher: Launcher;
let base: string;
let metricsBase: string;
let apiReadyAt: number;
let workerReadyAt: number;
let embedded: { url: string; pid: number };

beforeAll(async () => {
  started6379 = await otherRedisOn6379(scratch);
  machineRedis = readOnlyClient('redis://127.0.0.1:6379');
  expect(await keysUnder(machineRedis, prefix)).toEqual([]);

  const [port, metricsPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  metricsBase = `http://127.0.0.1:${metricsPort}`;
  // No REDIS_URL: npm start runs its own Redis, its data in a directory of this file's own (so a
  // developer's `npm start` in this checkout is not refused, nor written into).
  launcher = startLauncher({
    PORT: String(port),
    INVOQ_METRICS_PORT: String(metricsPort),
    INVOQ_QUEUE_PREFIX: prefix,
    INVOQ_DATA_DIR: dataDir,
    INVOQ_FUNCTIONS_DIR: functionsDir,
  });
  apiReadyAt = await waitFor(async () => ((await fetch(`${base}/healthz`).catch(() => undefined))?.ok ? Date.now() : undefined), 20_000, 'the API to answer');
  workerReadyAt = await waitFor(
    async () => ((await fetch(`${metricsBase}/readyz`).catch(() => undefined))?.ok ? Date.now() : undefined),
    20_000,
    'the worker to be ready',
  );
  const line = await launcher.waitForOutput(/\[invoq\] Redis: embedded, (redis:\/\/127\.0\.0\.1:\d+) \(pid (\d+);/);
  embedded = { url: line.match[1]!, pid: Number(line.match[2]) };
}, 40_000);

afterAll(async () => {
  await launcher?.close();
  // Only if Ctrl-C did not stop it (a failed test): never leave the embedded Redis behind.
  if (embedded && isAlive(embedded.pid)) process.kill(embedded.pid, 'SIGKILL');
  machineRedis?.disconnect();
  await started6379?.kill();
  for (const dir of [dataDir, functionsDir, scratch]) fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

it('prints where the API listens, that auth is off (and what the aws CLI needs) and its Redis within a second of being ready', async () => {
  const expected = [
    /\[invoq\] Redis: embedded, redis:\/\/127\.0\.0\.1:\d+ .*data in .*AOF with appendfsync always/,
    new RegExp(`\\[invoq\\] API: ${base.replace(/\./g, '\\.')}`),
    /\[invoq\] auth is off/,
    /\[invoq\] {3}export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1\n/,
    // The apps' own JSON lines, which a 4 KB log buffer used to hold back for dozens of calls.
    /"msg":"auth is off[^"]*"/,
    /"auth":"off","redis":"redis:\/\/127\.0\.0\.1:\d+\/?".*"msg":"invoq API listening"/,
  ];
  const late: string[] = [];
  for (const pattern of expected) {
    const { at } = await launcher.waitForOutput(pattern, 5000);
    if (at - apiReadyAt > 1000) late.push(`${pattern} ${at - apiReadyAt} ms after the API answered`);
  }
  const { at } = await launcher.waitForOutput(/"msg":"invoq worker running"/, 5000);
  if (at - workerReadyAt > 1000) late.push(`the worker's line ${at - workerReadyAt} ms after it was ready`);
  expect(late).toEqual([]);
});

it('starts the API and the worker with the Node.js flags V8 reads only at start-up, as npm run api|worker does', () => {
  const flags = serviceNodeFlags('');
  const pid = launcher.child.pid!;
  const apps = fs
    .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .map((child) => fs.readFileSync(`/proc/${child}/cmdline`, 'utf8').split('\0').filter(Boolean))
    .filter((argv) => argv[0] === process.execPath)
    .map((argv) => argv.slice(1));
  expect(apps.sort()).toEqual([
    [...flags, path.join(REPO_ROOT, 'apps/api/dist/main.js')],
    [...flags, path.join(REPO_ROOT, 'apps/worker/dist/main.js')],
  ]);
  const scripts = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  expect([scripts.api, scripts.worker]).toEqual([`node ${flags.join(' ')} apps/api/dist/main.js`, `node ${flags.join(' ')} apps/worker/dist/main.js`]);
});

it('serves the seed’s testFunction synchronously', async () => {
  const res = await fetch(`${base}/2015-03-31/functions/testFunction/invocations`, { method: 'POST', body: '{ "input": "input_value" }' });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ ok: true, input: { input: 'input_value' } });
});

it('queues putOrder on its embedded Redis, and a worker processes it; nothing lands in the Redis on 6379', async () => {
  const res = await fetch(`${base}/2015-03-31/functions/putOrder/invocations`, {
    method: 'POST',
    headers: { 'X-Amz-Invocation-Type': 'Event' },
    body: '{"item":"coffee"}',
  });
  expect(res.status).toBe(202);
  await waitFor(
    async () => /^invoq_invocations_total\{function="putOrder",type="async"\} 1$/m.test(await (await fetch(`${metricsBase}/metrics`)).text()),
    10_000,
    'putOrder to run',
  );
  const own = readOnlyClient(embedded.url);
  try {
    expect((await keysUnder(own, prefix)).filter((key) => key.startsWith(`${prefix}:{putOrder}:`)).length).toBeGreaterThan(0);
  } finally {
    own.disconnect();
  }
  expect(await keysUnder(machineRedis, prefix)).toEqual([]);
});

// Decided at collection, so a machine without the CLI reports a skip, not a pass; CI must have it.
const aws = awsCliV2();
const skipCli = !aws && process.env.CI !== 'true';
const cliTest = skipCli ? it.skip : it;
const cliNote = skipCli ? ' (no AWS CLI v2 on this machine: apt-get install awscli)' : '';

cliTest(`answers the seed’s \`aws lambda invoke --invocation-type Event\` command${cliNote}`, async () => {
  if (!aws) throw new Error('CI=true but no AWS CLI v2 is installed (.ci/run installs Debian awscli)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-aws-'));
  try {
    const result = spawnSync(
      aws,
      [
        'lambda',
        'invoke',
        '--function-name',
        'testFunction',
        '--invocation-type',
        'Event',
        '--cli-binary-format',
        'raw-in-base64-out',
        '--payload',
        '{ "input": "input_value" }',
        'response.json',
        '--endpoint-url',
        base,
      ],
      {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, HOME: dir, AWS_ACCESS_KEY_ID: 'any', AWS_SECRET_ACCESS_KEY: 'any', AWS_DEFAULT_REGION: 'us-east-1' },
        timeout: 30_000,
      },
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ StatusCode: 202 });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('refuses a second npm start on the same data directory, and leaves the first running', async () => {
  const second = startLauncher({
    PORT: String(await freePort()),
    INVOQ_METRICS_PORT: String(await freePort()),
    INVOQ_QUEUE_PREFIX: prefix,
    INVOQ_DATA_DIR: dataDir,
  });
  try {
    expect(await second.exited).toBe(1);
  } finally {
    await second.close();
  }
  expect(second.output()).toMatch(new RegExp(`another npm start's embedded Redis \\(pid ${embedded.pid}\\) is using .*: stop that one first`));
  expect((await fetch(`${base}/readyz`)).status).toBe(200);
});

it('stops everything on Ctrl-C, its embedded Redis too, and writes the apps’ last lines', async () => {
  expect(await launcher.interrupt()).toBe(0);
  await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  await expect(fetch(`${metricsBase}/healthz`)).rejects.toThrow();
  expect(isAlive(embedded.pid)).toBe(false);
  expect(await pingable(embedded.url)).toBe(false);
  // Both apps logged their last line before exiting, and it reached the terminal.
  expect(launcher.output().match(/"msg":"stopped"/g)).toHaveLength(2);
  expect(await keysUnder(machineRedis, prefix)).toEqual([]);
}, 30_000);
