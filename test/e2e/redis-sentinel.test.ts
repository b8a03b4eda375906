/**
 * REDIS_SENTINELS + REDIS_SENTINEL_NAME: the API and the worker ask a Sentinel for the master and
 * run on it (a local Sentinel from the system redis-server, watching a Redis of the test's own and
 * its replica), and follow it when the Sentinel fails over to the replica. Both require a
 * password: the Redis servers REDIS_PASSWORD, the Sentinel REDIS_SENTINEL_PASSWORD.
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
let replica: OwnRedis;
let sentinel: ChildProcess;
let sentinelClient: IORedis;
let sentinelPort: number;
let stack: Stack;

beforeAll(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-sentinel-'));
  // Either may be the master after a failover, so both take the password as master and replica.
  master = await OwnRedis.create(fs.mkdtempSync(path.join(dir, 'a-')), { password: MASTER_PASSWORD, args: ['--masterauth', MASTER_PASSWORD] });
  await master.start();
  replica = await OwnRedis.create(fs.mkdtempSync(path.join(dir, 'b-')), {
    password: MASTER_PASSWORD,
    args: ['--masterauth', MASTER_PASSWORD, '--replicaof', '127.0.0.1', String(master.port)],
  });
  await replica.start();
  sentinelPort = await freePort();
  // Sentinel rewrites its own config file, so it gets a file of its own.
  const conf = path.join(dir, 'sentinel.conf');
  fs.writeFileSync(
    conf,
    `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\nsentinel auth-pass mymaster ${MASTER_PASSWORD}\nrequirepass ${SENTINEL_PASSWORD}\n`,
  );
  sentinel = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  sentinelClient = new IORedis(sentinelPort, '127.0.0.1', {
    password: SENTINEL_PASSWORD,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 100,
  });
  sentinelClient.on('error', () => undefined);
  await waitFor(async () => (await masterPort()) === master.port, 10_000, 'the Sentinel to know the master');
  stack = await startStack(
    testConfig({
      REDIS_URL: '',
      REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_PASSWORD: MASTER_PASSWORD,
      REDIS_SENTINEL_PASSWORD: SENTINEL_PASSWORD,
      INVOQ_QUEUE_PREFIX: 'sentinel',
    }),
  );
});
afterAll(async () => {
  await stack?.close();
  sentinelClient?.disconnect();
  if (sentinel && sentinel.exitCode === null) {
    const exited = new Promise((resolve) => sentinel.once('exit', resolve));
    sentinel.kill('SIGKILL');
    await exited;
  }
  await Promise.all([master?.kill(), replica?.kill()]);
});

/** The master's port as the Sentinel names it now. */
async function masterPort(): Promise<number | undefined> {
  if (sentinelClient.status === 'wait') await sentinelClient.connect().catch(() => undefined);
  const addr = (await sentinelClient.call('SENTINEL', 'get-master-addr-by-name', 'mymaster').catch(() => null)) as string[] | null;
  return addr ? Number(addr[1]) : undefined;
}

async function invokeBoth(via: string): Promise<void> {
  const url = `${stack.base}/2015-03-31/functions/echo/invocations`;
  const sync = await fetch(url, { method: 'POST', body: JSON.stringify({ via }) });
  expect(await sync.json()).toEqual({ via });
  const event = await fetch(url, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body: JSON.stringify({ via }) });
  expect(event.status).toBe(202);
  const status = (await (await fetch(`${stack.base}/invocations/${event.headers.get('x-amzn-requestid')}?wait=10`)).json()) as {
    status: string;
    result: unknown;
  };
  expect(status).toMatchObject({ status: 'succeeded', result: { via } });
}

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

it('follows the master when the Sentinel fails over to the replica', async () => {
  // The Sentinel must know the replica, and the replica be in sync, before it can promote it.
  const direct = new IORedis(replica.url, { maxRetriesPerRequest: 0 });
  direct.on('error', () => undefined);
  try {
    await waitFor(
      async () => {
        const info = String(await direct.info('replication').catch(() => ''));
        const known = ((await sentinelClient.call('SENTINEL', 'replicas', 'mymaster').catch(() => [])) as unknown[]).length > 0;
        return known && /master_link_status:up/.test(info);
      },
      20_000,
      'the Sentinel to know a replica in sync',
    );
  } finally {
    direct.disconnect();
  }
  await sentinelClient.call('SENTINEL', 'FAILOVER', 'mymaster');
  await waitFor(async () => (await masterPort()) === replica.port, 20_000, 'the Sentinel to name the replica as master');

  // Both tiers find the new master by themselves: events are accepted and run again.
  await waitFor(
    async () => {
      const res = await fetch(`${stack.base}/2015-03-31/functions/echo/invocations`, {
        method: 'POST',
        headers: { 'x-amz-invocation-type': 'Event' },
        body: '{}',
      });
      return res.status === 202;
    },
    20_000,
    'the API to accept events on the new master',
  );
  await invokeBoth('after failover');
}, 60_000);
