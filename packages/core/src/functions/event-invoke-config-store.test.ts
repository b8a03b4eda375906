/**
 * The event-invoke-config store against a real Redis: what Get shows and what workers run in each
 * state (nothing set, function.json's block, Put, Update, Delete), where it is kept, and the
 * workers' cache, on a clock the test moves.
 */
import { closeRedis, createRedisConnection } from '../redis/redis-connection';
import { testRedisUrl, uniquePrefix } from '../../../../test/support/harness';
import { EventInvokeConfigStore } from './event-invoke-config-store';
import { functionSchema } from './function-schema';
import { functionArn, type ResolvedFunction } from './resolved-function';

const OK = 'http://127.0.0.1/ok';
const FAIL = 'http://127.0.0.1/fail';
// Not a real folder: function.json's date is then the first time the store looked.
const fn = (name: string, config: Record<string, unknown>): ResolvedFunction =>
  ({ name, arn: functionArn(name), directory: `/nonexistent/${name}`, config: functionSchema.parse({ handler: 'index.handler', ...config }) }) as ResolvedFunction;

const connection = createRedisConnection(testRedisUrl());
const prefix = uniquePrefix('eic');
let clock = 1_700_000_000_000;
const store = new EventInvokeConfigStore(connection, prefix, { now: () => clock });
afterAll(() => closeRedis(connection));

const runs = async (f: ResolvedFunction) => ({ policy: await store.policyOf(f), destinations: await store.destinationsOf(f) });
const defaults = { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 };

it('a function without an async block has no configuration, and runs Lambda’s defaults', async () => {
  const plain = fn('plain', {});
  expect(await store.effective(plain)).toBeUndefined();
  expect(await store.update(plain, { MaximumRetryAttempts: 0 })).toBeUndefined();
  expect(await store.delete('plain')).toBe(false);
  expect(await runs(plain)).toEqual({ policy: defaults, destinations: {} });
});

it('shows and runs function.json’s block as written while nothing is Put', async () => {
  const notify = fn('notify', { async: { maximumRetryAttempts: 1, onSuccess: OK } });
  expect(await store.effective(notify)).toEqual({
    source: 'function.json',
    config: { LastModified: clock / 1000, MaximumRetryAttempts: 1, DestinationConfig: { OnSuccess: { Destination: OK } } },
  });
  expect(await runs(notify)).toEqual({ policy: { maximumRetryAttempts: 1, maximumEventAgeInSeconds: 21_600 }, destinations: { onSuccess: OK } });
});

it('Put replaces the whole configuration; Update merges into it; Delete returns to function.json’s', async () => {
  const notify = fn('cycle', { async: { maximumEventAgeInSeconds: 600, onSuccess: OK, onFailure: FAIL } });
  const put = await store.put(notify, { MaximumRetryAttempts: 0 });
  expect(put).toEqual({ LastModified: clock / 1000, MaximumRetryAttempts: 0 });
  expect(await store.effective(notify)).toEqual({ source: 'event-invoke-config', config: put });
  expect(await runs(notify)).toEqual({ policy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 21_600 }, destinations: {} });

  clock += 5000;
  const updated = await store.update(notify, { DestinationConfig: { OnFailure: { Destination: FAIL } } });
  expect(updated).toEqual({ LastModified: clock / 1000, MaximumRetryAttempts: 0, DestinationConfig: { OnFailure: { Destination: FAIL } } });
  expect(await runs(notify)).toEqual({ policy: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 21_600 }, destinations: { onFailure: FAIL } });

  expect(await store.delete('cycle')).toBe(true);
  expect((await store.effective(notify))?.source).toBe('function.json');
  expect(await runs(notify)).toEqual({ policy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 600 }, destinations: { onSuccess: OK, onFailure: FAIL } });
});

it('Update with nothing Put merges into function.json’s block', async () => {
  const merged = fn('merged', { async: { onSuccess: OK } });
  expect(await store.update(merged, { MaximumRetryAttempts: 1 })).toEqual({ LastModified: clock / 1000, MaximumRetryAttempts: 1, DestinationConfig: { OnSuccess: { Destination: OK } } });
  expect(await runs(merged)).toEqual({ policy: { maximumRetryAttempts: 1, maximumEventAgeInSeconds: 21_600 }, destinations: { onSuccess: OK } });
});

it('keeps the configuration under the function’s hash tag', async () => {
  await store.put(fn('tagged', {}), { MaximumEventAgeInSeconds: 60 });
  expect(await connection.keys(`${prefix}:*tagged*`)).toEqual([`${prefix}:{tagged}:event-invoke-config`]);
});

it('a worker reads a change made elsewhere once its 1 s cache has passed', async () => {
  const cached = fn('cached', { async: { onSuccess: OK } });
  const api = new EventInvokeConfigStore(connection, prefix, { now: () => clock });
  expect(await store.destinationsOf(cached)).toEqual({ onSuccess: OK });
  await api.put(cached, { MaximumRetryAttempts: 0 });
  clock += 1000;
  expect(await store.destinationsOf(cached)).toEqual({ onSuccess: OK });
  clock += 1;
  expect(await store.destinationsOf(cached)).toEqual({});
  expect(await store.policyOf(cached)).toEqual({ maximumRetryAttempts: 0, maximumEventAgeInSeconds: 21_600 });
});
