/**
 * Reserved-concurrency leases against a real Redis: a held lease is renewed for as long as its
 * run lasts (longer than its TTL), and a lease nobody renews (a crashed process's) lapses, so
 * its slot comes back.
 */
import { closeRedis, createRedisConnection } from '../redis/redis-connection';
import { functionSchema } from '../functions/function-schema';
import { functionArn, type ResolvedFunction } from '../functions/resolved-function';
import { testRedisUrl, uniquePrefix, waitFor } from '../../../../test/support/harness';
import { ConcurrencyLeases } from './concurrency-leases';

const TTL_MS = 300;
const limited: ResolvedFunction = {
  name: 'limited',
  arn: functionArn('limited'),
  config: functionSchema.parse({ handler: 'index.handler', reservedConcurrency: 1 }),
} as ResolvedFunction;
const unlimited: ResolvedFunction = { name: 'free', arn: functionArn('free'), config: functionSchema.parse({ handler: 'index.handler' }) } as ResolvedFunction;

const connection = createRedisConnection(testRedisUrl());
const prefix = uniquePrefix('leases');
const processes: ConcurrencyLeases[] = [];
const leasesOfAProcess = () => {
  const leases = new ConcurrencyLeases(connection, prefix, { ttlMs: TTL_MS, renewEveryMs: TTL_MS / 4 });
  processes.push(leases);
  return leases;
};
afterAll(async () => {
  for (const leases of processes) leases.close();
  await closeRedis(connection);
});

it('renews a held lease past its TTL, and frees the slot on release', async () => {
  const [a, b] = [leasesOfAProcess(), leasesOfAProcess()];
  const release = await a.tryAcquire(limited);
  expect(release).toBeDefined();
  // Time passing is the subject here: three TTLs later the run still holds its slot.
  await new Promise((resolve) => setTimeout(resolve, 3 * TTL_MS));
  expect(await b.tryAcquire(limited)).toBeUndefined();
  await release!();
  expect(a.heldCount).toBe(0);
  const again = await b.tryAcquire(limited);
  expect(again).toBeDefined();
  await again!();
});

it('lets a lease nobody renews lapse, so a crashed process cannot keep a slot', async () => {
  const [crashed, survivor] = [leasesOfAProcess(), leasesOfAProcess()];
  expect(await crashed.tryAcquire(limited)).toBeDefined();
  crashed.close(); // as if the process died holding it: no release, no renewal
  expect(await survivor.tryAcquire(limited)).toBeUndefined();
  const release = await waitFor(() => survivor.tryAcquire(limited), 10 * TTL_MS, 'the lapsed lease to free its slot');
  await release();
});

it('never touches Redis for a function without a limit', async () => {
  const offline = createRedisConnection('redis://127.0.0.1:1', { failFast: true });
  const leases = new ConcurrencyLeases(offline, prefix);
  const release = await leases.tryAcquire(unlimited);
  await release!();
  expect(leases.heldCount).toBe(0);
  await closeRedis(offline);
});
