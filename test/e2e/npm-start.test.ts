/**
 * What a newcomer does first: `npm start` (here its launcher, on the build `npm test` made),
 * then the seed's own commands, then Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, freePort, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

/** The AWS CLI v2 (the seed's `--cli-binary-format` is a v2 option), or undefined. */
function awsCliV2(): string | undefined {
  for (const candidate of ['/usr/bin/aws', 'aws']) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.status === 0 && /aws-cli\/2\./.test(result.stdout + result.stderr)) return candidate;
  }
  return undefined;
}

let launcher: ChildProcess;
let base: string;
let metricsBase: string;
let output = '';

beforeAll(async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  metricsBase = `http://127.0.0.1:${metricsPort}`;
  launcher = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/start.mjs')], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH,
      REDIS_URL: testRedisUrl(),
      PORT: String(port),
      INVOQ_METRICS_PORT: String(metricsPort),
      INVOQ_QUEUE_PREFIX: uniquePrefix('start'),
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  launcher.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  launcher.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => undefined))?.ok, 20_000, 'the API to be ready');
  await waitFor(async () => (await fetch(`${metricsBase}/readyz`).catch(() => undefined))?.ok, 20_000, 'the worker to be ready');
}, 30_000);

afterAll(async () => {
  if (launcher && launcher.exitCode === null) launcher.kill('SIGKILL');
});

it('serves the seed’s testFunction synchronously', async () => {
  const res = await fetch(`${base}/2015-03-31/functions/testFunction/invocations`, { method: 'POST', body: '{ "input": "input_value" }' });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ ok: true, input: { input: 'input_value' } });
});

it('queues putOrder, and a worker processes it', async () => {
  const res = await fetch(`${base}/2015-03-31/functions/putOrder/invocations`, {
    method: 'POST',
    headers: { 'X-Amz-Invocation-Type': 'Event' },
    body: '{"item":"coffee"}',
  });
  expect(res.status).toBe(202);
  await waitFor(async () => /^invoq_invocations_total\{function="putOrder",type="async"\} 1$/m.test(await (await fetch(`${metricsBase}/metrics`)).text()), 10_000, 'putOrder to run');
});

// Decided at collection, so a machine without the CLI reports a skip, not a pass; CI must have it.
const aws = awsCliV2();
const skipCli = !aws && process.env.CI !== 'true';
const cliTest = skipCli ? it.skip : it;
const cliNote = skipCli ? ' (no AWS CLI v2 on this machine: apt-get install awscli)' : '';

cliTest(`answers the seed’s \`aws lambda invoke --invocation-type Event\` command${cliNote}`, async () => {
  if (!aws) throw new Error('CI=true but no AWS CLI v2 is installed (.ci/run installs Debian awscli)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-aws-'));
  const result = spawnSync(
    aws,
    ['lambda', 'invoke', '--function-name', 'testFunction', '--invocation-type', 'Event', '--cli-binary-format', 'raw-in-base64-out', '--payload', '{ "input": "input_value" }', 'response.json', '--endpoint-url', base],
    { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir, AWS_ACCESS_KEY_ID: 'any', AWS_SECRET_ACCESS_KEY: 'any', AWS_DEFAULT_REGION: 'us-east-1' }, timeout: 30_000 },
  );
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  expect(JSON.parse(result.stdout)).toEqual({ StatusCode: 202 });
});

it('stops everything on Ctrl-C', async () => {
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  launcher.kill('SIGINT');
  expect(await exited).toBe(0);
  await expect(fetch(`${base}/healthz`)).rejects.toThrow();
}, 30_000);
