/**
 * The function store against a real Redis, and a real 3-master Cluster: documents, the index, the
 * compare-and-set under concurrent writers, code blobs kept while used and removed with the last
 * user, the tombstone, the change channel across connections, and the shared URL key.
 */
import { randomUUID } from 'node:crypto';
import { closeRedis, createRedisConnection, type RedisClient } from '../redis/redis-connection';
import { testRedisUrl, uniquePrefix, waitFor } from '../../../../test/support/harness';
import { OwnRedisCluster } from '../../../../test/support/redis-cluster';
import { InvoqError } from '../errors';
import { SETTLE_MS, type DeployedFunction, type VersionRecord } from './deployed-function';
import { FunctionStore } from './function-store';

const sha = (label: string) => Buffer.from(label.padEnd(32, '.')).toString('base64');
const record = (codeSha256: string, version = '$LATEST'): VersionRecord => ({
  version,
  codeSha256,
  codeSize: 3,
  runtime: 'nodejs20.x',
  handler: 'index.handler',
  role: 'arn:aws:iam::000000000000:role/x',
  description: '',
  timeout: 3,
  memorySize: 128,
  environment: {},
  modifiedAt: 1,
  revisionId: randomUUID(),
});
const doc = (name: string, codeSha256: string): DeployedFunction => ({
  name,
  etag: 0,
  createdAt: 1,
  latest: record(codeSha256),
  settlesAt: 1 + SETTLE_MS,
  lastChange: 'create',
  settledRevisionId: randomUUID(),
  versions: {},
  nextVersion: 1,
  aliases: {},
  tags: {},
});

const connections: RedisClient[] = [];
const connect = (where: Parameters<typeof createRedisConnection>[0], failFast = false) => {
  const connection = createRedisConnection(where, { failFast });
  connections.push(connection);
  return connection;
};
afterAll(async () => {
  await Promise.all(connections.map((c) => closeRedis(c)));
});

describe('on one Redis', () => {
  const prefix = uniquePrefix('fnstore');
  const redis = connect(testRedisUrl());
  const store = new FunctionStore(redis, prefix);

  it('creates, reads, lists and indexes a function; the etag counts writes', async () => {
    const created = await store.update('alpha', () => ({ next: doc('alpha', sha('a1')), code: { sha256: sha('a1'), zip: Buffer.from('zip') } }));
    expect(created?.etag).toBe(1);
    expect(await store.get('alpha')).toEqual(created);
    expect(await store.names()).toEqual(['alpha']);
    expect(await store.getCode('alpha', sha('a1'))).toEqual(Buffer.from('zip'));
    const again = await store.update('alpha', (current) => ({ next: { ...current!, tags: { a: '1' } } }));
    expect(again?.etag).toBe(2);
    // An index name without a document (a create that crashed midway) is left out.
    await redis.sadd(`${prefix}:{@functions}:names`, 'ghost');
    const many = await store.getMany(await store.names());
    expect([...many.keys()]).toEqual(['alpha']);
    expect(many.get('alpha')?.tags).toEqual({ a: '1' });
    expect(await store.get('ghost')).toBeUndefined();
  });

  it('keeps every key under the function’s hash tag', async () => {
    await store.update('tagged', () => ({ next: doc('tagged', sha('t1')), code: { sha256: sha('t1'), zip: Buffer.from('t') } }));
    const hex = Buffer.from(sha('t1'), 'base64').toString('hex');
    expect((await redis.keys(`${prefix}:*tagged*`)).sort()).toEqual([`${prefix}:{tagged}:code:${hex}`, `${prefix}:{tagged}:deployment`]);
  });

  it('applies concurrent updates one after another, losing none', async () => {
    await store.update('busy', () => ({ next: doc('busy', sha('b')) }));
    // Another connection too, as another process would write.
    const other = new FunctionStore(connect(testRedisUrl()), prefix);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? store : other).update('busy', (current) => ({ next: { ...current!, tags: { ...current!.tags, [`k${i}`]: 'v' } } })),
      ),
    );
    const busy = await store.get('busy');
    expect(Object.keys(busy!.tags).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`).sort());
    expect(busy!.etag).toBe(21);
  });

  it('removes a code blob once nothing uses it, keeps one a version still holds', async () => {
    await store.update('coded', () => ({ next: doc('coded', sha('c1')), code: { sha256: sha('c1'), zip: Buffer.from('one') } }));
    // Version 1 holds c1; $LATEST moves to c2: c1 stays.
    await store.update('coded', (fn) => ({
      next: { ...fn!, latest: { ...fn!.latest, codeSha256: sha('c2') }, versions: { '1': { ...fn!.latest, version: '1' } } },
      code: { sha256: sha('c2'), zip: Buffer.from('two') },
    }));
    expect(await store.getCode('coded', sha('c1'))).toEqual(Buffer.from('one'));
    // $LATEST moves to c3, c2 was only $LATEST's: gone; c1 still held by version 1.
    await store.update('coded', (fn) => ({
      next: { ...fn!, latest: { ...fn!.latest, codeSha256: sha('c3') } },
      code: { sha256: sha('c3'), zip: Buffer.from('three') },
    }));
    expect(await store.getCode('coded', sha('c2'))).toBeUndefined();
    expect(await store.getCode('coded', sha('c1'))).toEqual(Buffer.from('one'));
    // The version goes: c1 with it.
    await store.update('coded', (fn) => ({ next: { ...fn!, versions: {} } }));
    expect(await store.getCode('coded', sha('c1'))).toBeUndefined();
    expect(await store.getCode('coded', sha('c3'))).toEqual(Buffer.from('three'));
  });

  it('a delete removes the document, every code blob and the index entry, and leaves a tombstone; a create removes it', async () => {
    await store.update('doomed', () => ({ next: doc('doomed', sha('d1')), code: { sha256: sha('d1'), zip: Buffer.from('d') } }));
    await store.update('doomed', (fn) => ({
      next: { ...fn!, versions: { '1': { ...fn!.latest, version: '1', codeSha256: sha('d0') } } },
      code: { sha256: sha('d0'), zip: Buffer.from('0') },
    }));
    const before = Date.now();
    expect(await store.update('doomed', () => ({ next: null }))).toBeNull();
    expect(await store.get('doomed')).toBeUndefined();
    expect(await store.names()).not.toContain('doomed');
    expect(await redis.keys(`${prefix}:{doomed}:code:*`)).toEqual([]);
    const deletedAt = await store.deletedAt('doomed');
    expect(deletedAt).toBeGreaterThanOrEqual(before);
    const ttl = await redis.ttl(`${prefix}:{doomed}:deleted`);
    expect(ttl).toBeGreaterThan(21_500);
    expect(ttl).toBeLessThanOrEqual(21_600);

    await store.update('doomed', () => ({ next: doc('doomed', sha('d2')) }));
    expect(await store.deletedAt('doomed')).toBeUndefined();
    expect(await store.names()).toContain('doomed');
  });

  it('passes an error thrown by the change to the caller and writes nothing', async () => {
    const refusal = new InvoqError('RESOURCE_CONFLICT', 'no');
    await expect(store.update('refused', () => Promise.reject(refusal))).rejects.toBe(refusal);
    expect(await store.get('refused')).toBeUndefined();
    expect(await store.update('refused', () => ({ next: null }))).toBeNull();
    expect(await store.deletedAt('refused')).toBeUndefined();
  });

  it('announces every change to the subscribers of other connections, until they unsubscribe', async () => {
    const seen: string[] = [];
    const listener = new FunctionStore(connect(testRedisUrl(), true), prefix);
    const unsubscribe = await listener.subscribe((name) => seen.push(name));
    await store.update('heard', () => ({ next: doc('heard', sha('h')) }));
    await store.update('heard', () => ({ next: null }));
    await waitFor(() => seen.length >= 2, 5000, 'two change messages');
    expect(seen).toEqual(['heard', 'heard']);
    await unsubscribe();
    await store.update('heard', () => ({ next: doc('heard', sha('h')) }));
    // A marker published after: once it arrives elsewhere, the unsubscribed one would have had the change too.
    const marker: string[] = [];
    const stop = await store.subscribe((name) => marker.push(name));
    await store.update('heard', () => ({ next: null }));
    await waitFor(() => marker.length > 0, 5000, 'the marker');
    await stop();
    expect(seen).toEqual(['heard', 'heard']);
  });

  it('creates the code URL key once; every store reads the same one', async () => {
    const [a, b] = await Promise.all([store.codeUrlKey(), new FunctionStore(connect(testRedisUrl()), prefix).codeUrlKey()]);
    expect(a).toHaveLength(32);
    expect(b).toEqual(a);
    await redis.del(`${prefix}:{@functions}:code-url-key`);
    // Cached after the first read.
    expect(await store.codeUrlKey()).toEqual(a);
  });
});

const suite = OwnRedisCluster.available() || process.env.CI === 'true' ? describe : describe.skip;

suite('on a 3-master Redis Cluster', () => {
  let cluster: OwnRedisCluster | undefined;
  let writer: FunctionStore;
  let reader: FunctionStore;
  const prefix = uniquePrefix('fnstore-cluster');
  const NAMES = ['orders', 'billing', 'emails', 'thumbnails', 'search', 'audit'];

  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    const nodes = cluster.nodes.split(',').map((hostPort) => ({ host: hostPort.split(':')[0]!, port: Number(hostPort.split(':')[1]) }));
    writer = new FunctionStore(connect({ kind: 'cluster', nodes }), prefix);
    reader = new FunctionStore(connect({ kind: 'cluster', nodes }, true), prefix);
  }, 30_000);
  afterAll(async () => {
    await Promise.all(connections.map((c) => closeRedis(c)));
    await cluster?.stop();
  });

  it('writes, lists, deletes and announces functions spread over the masters', async () => {
    const seen = new Set<string>();
    const unsubscribe = await reader.subscribe((name) => seen.add(name));
    await Promise.all(NAMES.map((name) => writer.update(name, () => ({ next: doc(name, sha(name)), code: { sha256: sha(name), zip: Buffer.from(name) } }))));
    await Promise.all(NAMES.map((name) => writer.update(name, (fn) => ({ next: { ...fn!, tags: { a: name } } }))));
    expect((await reader.names()).sort()).toEqual([...NAMES].sort());
    const many = await reader.getMany(NAMES);
    expect(NAMES.map((name) => many.get(name)?.tags.a)).toEqual(NAMES);
    expect(await reader.getCode('billing', sha('billing'))).toEqual(Buffer.from('billing'));
    await writer.update('audit', () => ({ next: null }));
    expect(await reader.getCode('audit', sha('audit'))).toBeUndefined();
    expect(await reader.deletedAt('audit')).toBeDefined();
    await waitFor(() => seen.size === NAMES.length, 5000, 'a change message for every function');
    await unsubscribe();
    // The functions do spread: more than one master holds a document.
    const holders = await Promise.all(
      cluster!.ports.map(async (port) => {
        const node = cluster!.nodeClient(port);
        const keys = await node.keys(`${prefix}:*:deployment`);
        node.disconnect();
        return keys.length;
      }),
    );
    expect(holders.filter((n) => n > 0).length).toBeGreaterThan(1);
  });
});
