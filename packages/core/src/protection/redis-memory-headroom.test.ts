/**
 * The byte budget: INFO memory parsed as Redis compares it with maxmemory; against a real Redis
 * of this file's own (its maxmemory is changed here, which the shared one must never see), Event
 * is refused past the limit, and again admitted once memory is freed; with no maxmemory only the
 * event cap applies; what this process accepted since the last reading counts before the next;
 * on a Cluster, the fullest master decides.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvoqError } from '../errors';
import { closeRedis, createRedisConnection, waitForRedis, type RedisClient } from '../redis/redis-connection';
import { OwnRedis } from '../../../../test/support/processes';
import { OwnRedisCluster } from '../../../../test/support/redis-cluster';
import { RedisMemoryHeadroom, estimatedEventBytes, parseMemoryInfo } from './redis-memory-headroom';

describe('parseMemoryInfo', () => {
  it.each([
    ['# Memory\r\nused_memory:1000\r\nmaxmemory:4000\r\nmem_not_counted_for_evict:100\r\n', { usedBytes: 900, maxBytes: 4000 }],
    ['used_memory:1000\nmaxmemory:0\n', { usedBytes: 1000, maxBytes: 0 }],
    // used_memory_human and friends must not be read as used_memory.
    ['used_memory_human:1.00K\r\nused_memory:2048\r\nused_memory_rss:9999\r\nmaxmemory_human:4.00K\r\nmaxmemory:4096\r\n', { usedBytes: 2048, maxBytes: 4096 }],
    ['used_memory:10\r\nmaxmemory:100\r\nmem_not_counted_for_evict:50\r\n', { usedBytes: 0, maxBytes: 100 }],
    ['used_memory:1000\r\n', undefined],
    ['', undefined],
  ])('reads %j', (info, expected) => {
    expect(parseMemoryInfo(info)).toEqual(expected);
  });
});

describe('RedisMemoryHeadroom against a Redis with maxmemory', () => {
  let redis: OwnRedis;
  let connection: RedisClient;
  const ratios: number[] = [];

  beforeAll(async () => {
    redis = await OwnRedis.create(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-headroom-')));
    await redis.start();
    connection = createRedisConnection(redis.url);
  });
  afterAll(async () => {
    await closeRedis(connection);
    await redis.kill();
  });

  const usedMemory = async () => parseMemoryInfo(await connection.info('memory'))!.usedBytes;
  const refusal = (headroom: RedisMemoryHeadroom, bytes = 10): InvoqError | undefined => {
    try {
      headroom.admit(bytes);
      return undefined;
    } catch (e) {
      return e as InvoqError;
    }
  };

  it('admits everything when Redis has no maxmemory (only the event cap applies), and reports 0', async () => {
    await connection.config('SET', 'maxmemory', '0');
    const headroom = new RedisMemoryHeadroom(connection, { maxPercent: 1, refreshMs: 60_000, onReading: (r) => ratios.push(r) });
    await headroom.refresh();
    expect(headroom.lastReading).toEqual({ usedBytes: expect.any(Number), maxBytes: 0 });
    for (let i = 0; i < 1000; i += 1) expect(refusal(headroom, 256 * 1024)).toBeUndefined();
    expect(ratios.at(-1)).toBe(0);
  });

  it('refuses past the limit with 429 RedisMemoryLimitExceeded, and admits again once memory is freed', async () => {
    // maxmemory twice what is used: a 50% limit sits just above today's use.
    const used = await usedMemory();
    await connection.config('SET', 'maxmemory', String(used * 2));
    const headroom = new RedisMemoryHeadroom(connection, { maxPercent: 55, refreshMs: 60_000, onReading: (r) => ratios.push(r) });
    await headroom.refresh();
    expect(refusal(headroom)).toBeUndefined();
    expect(ratios.at(-1)).toBeGreaterThan(0.4);
    expect(ratios.at(-1)).toBeLessThan(0.55);

    // Something fills Redis to 70% of maxmemory.
    await connection.setrange('headroom-filler', Math.ceil(used * 0.4), 'x');
    await headroom.refresh();
    const error = refusal(headroom);
    expect(error).toBeInstanceOf(InvoqError);
    expect(error).toMatchObject({ code: 'THROTTLED', exceptionName: 'TooManyRequestsException', reason: 'RedisMemoryLimitExceeded', retryAfterSeconds: 5 });
    expect(error!.message).toMatch(/at (6|7)\d% of its maxmemory \(events are refused from 55%/);
    expect(ratios.at(-1)).toBeGreaterThan(0.6);

    await connection.del('headroom-filler');
    await headroom.refresh();
    expect(refusal(headroom)).toBeUndefined();
  });

  it('counts what it admitted since the last reading, so a burst cannot overshoot between two reads', async () => {
    const used = await usedMemory();
    await connection.config('SET', 'maxmemory', String(used * 2));
    const headroom = new RedisMemoryHeadroom(connection, { maxPercent: 100, refreshMs: 60_000 });
    await headroom.refresh();
    // No new reading comes (refreshMs is a minute): the events that fit in what is left are admitted.
    const { usedBytes, maxBytes } = headroom.lastReading!;
    const fits = Math.ceil((maxBytes - usedBytes) / estimatedEventBytes(1024));
    for (let i = 0; i < fits - 1; i += 1) expect(refusal(headroom, 1024)).toBeUndefined();
    expect(refusal(headroom, 1024)).toBeUndefined();
    expect(refusal(headroom, 1024)).toMatchObject({ reason: 'RedisMemoryLimitExceeded' });
    // The next reading replaces the estimate with what Redis says (nothing was written).
    await headroom.refresh();
    expect(refusal(headroom, 1024)).toBeUndefined();
  });

  it('reads in the background, at most every refreshMs, never on the caller: admit itself stays synchronous', async () => {
    const used = await usedMemory();
    await connection.config('SET', 'maxmemory', String(used * 2));
    const headroom = new RedisMemoryHeadroom(connection, { maxPercent: 60, refreshMs: 0 });
    expect(headroom.lastReading).toBeUndefined();
    // No reading yet: admitted (Redis will answer for itself), and a read is under way.
    expect(refusal(headroom)).toBeUndefined();
    await headroom.refresh();
    expect(headroom.lastReading?.maxBytes).toBe(used * 2);
    await connection.setrange('headroom-filler', Math.ceil(used * 0.4), 'x');
    // The admit that finds the reading stale starts a read; a later one sees its result.
    expect(refusal(headroom)).toBeUndefined();
    await headroom.refresh();
    expect(refusal(headroom)).toMatchObject({ reason: 'RedisMemoryLimitExceeded' });
    await connection.del('headroom-filler');
  });

  it('keeps its last reading while Redis is away, and does not throw', async () => {
    await connection.config('SET', 'maxmemory', '0');
    const away = createRedisConnection('redis://127.0.0.1:1', { failFast: true });
    const headroom = new RedisMemoryHeadroom(away, { maxPercent: 90, refreshMs: 0 });
    await expect(headroom.refresh()).resolves.toBeUndefined();
    expect(headroom.lastReading).toBeUndefined();
    expect(refusal(headroom)).toBeUndefined();
    away.disconnect();
  });
});

describe('RedisMemoryHeadroom on a Redis Cluster', () => {
  let cluster: OwnRedisCluster;
  let connection: RedisClient;

  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    connection = createRedisConnection({ kind: 'cluster', nodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) });
    await waitForRedis(connection, 10_000);
  }, 30_000);
  afterAll(async () => {
    await closeRedis(connection);
    await cluster.stop();
  });

  it('reads every master and counts the fullest one', async () => {
    const [full, ...others] = cluster.ports.map((port) => cluster.nodeClient(port));
    try {
      for (const node of others) await node.config('SET', 'maxmemory', '1gb');
      // One master at ~90% of its maxmemory: its functions' events would be stranded first.
      const used = parseMemoryInfo(await full!.info('memory'))!.usedBytes;
      await full!.config('SET', 'maxmemory', String(Math.ceil(used / 0.9)));
      const headroom = new RedisMemoryHeadroom(connection, { maxPercent: 80, refreshMs: 60_000 });
      await headroom.refresh();
      expect(headroom.lastReading?.maxBytes).toBe(Math.ceil(used / 0.9));
      expect(() => headroom.admit(10)).toThrow(expect.objectContaining({ reason: 'RedisMemoryLimitExceeded' }));
      await full!.config('SET', 'maxmemory', '1gb');
      await headroom.refresh();
      expect(() => headroom.admit(10)).not.toThrow();
    } finally {
      for (const node of [full, ...others]) node?.disconnect();
    }
  });
});
