/**
 * REDIS_SENTINELS + REDIS_SENTINEL_NAME: the API and the worker ask a Sentinel for the master and
 * run on it (a local Sentinel from the system redis-server, watching a Redis of the test's own).
 * Both require a password: the master REDIS_PASSWORD, the Sentinel REDIS_SENTINEL_PASSWORD.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { freePort, testConfig, waitFor } from '../support/harness';
import { OwnRedis } from '../support/processes';
import { startStack, type Stack } from '../support/stack';

const MASTER_PASSWORD = 'master-secret';
const SENTINEL_PASSWORD = 'sentinel-secret';
let master: OwnRedis;
let sentinel: ChildProcess;
let sentinelPort: number;
let stack: Stack;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-sentinel-'));
  master = await OwnRedis.create(dir, { password: MASTER_PASSWORD });
  await master.start();
  sentinelPort = await freePort();
  // Sentinel rewrites its own config file, so it gets a file of its own.
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(conf, `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel auth-pass mymaster ${MASTER_PASSWORD}\nrequirepass ${SENTINEL_PASSWORD}\n`);
  sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const probe = new IORedis(sentinelPort, '127.0.0.1', { password: SENTINEL_PASSWORD, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => 100 });
  probe.on('error', () => undefined);
  try {
    await waitFor(async () => ((await probe.call('SENTINEL', 'get-master-addr-by-name', 'mymaster').catch(() => null)) as string[] | null)?.[1] === String(master.port), 10_000, 'the Sentinel to know the master');
  } finally {
    probe.disconnect();
  }
  stack = await startStack(testConfig({ REDIS_URL: '', REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`, REDIS_SENTINEL_NAME: 'mymaster', REDIS_PASSWORD: MASTER_PASSWORD, REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD, INVOQ_QUEUE_PREFIX: 'sentinel' }));
});
afterAll(async () => {
  await stack?.close();
  if (sentinel && sentinel.exitCode === null) {
    const exited = new Promise((resolve) => sentinel.once('exit', resolve));
    sentinel.kill('SIGKILL');
    await exited;
  }
  await master?.kill();
});

it('invokes sync and async through the master a Sentinel names', async () => {
  const url = `${stack.base}/2015-03-31/functions/echo/invocations`;
  const sync = await fetch(url, { method: 'POST', body: '{"via":"sentinel"}' });
  expect(await sync.json()).toEqual({ via: 'sentinel' });
  const event = await fetch(url, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body: '{"via":"sentinel"}' });
  expect(event.status).toBe(202);
  const id = event.headers.get('x-amzn-requestid')!;
  const status = (await (await fetch(`${stack.base}/invocations/${id}?wait=10`)).json()) as { status: string; result: unknown };
  expect(status).toMatchObject({ status: 'succeeded', result: { via: 'sentinel' } });
  // The event is in the master's keys, under the function's hash tag.
  const direct = new IORedis(master.url);
  try {
    expect(await direct.exists(`sentinel:{echo}:${id}`)).toBe(1);
  } finally {
    direct.disconnect();
  }
});
