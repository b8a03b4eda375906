/**
 * The Event path must stay one Redis round trip per event: it is what lets it keep up with (and
 * later beat) a bare express + Queue.add. MONITOR shows every command Redis receives; this test
 * has a Redis of its own, so no other test's commands (binary job data) reach its MONITOR.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import IORedis from 'ioredis';
import { EventProducer, EventQueues, createRedisConnection, waitForRedis, type RedisClient } from '@invoq/core';
import { waitFor } from '../support/harness';
import { OwnRedis } from '../support/processes';

let redis: OwnRedis;
let connection: RedisClient;
let monitorSource: IORedis;
let monitor: IORedis | undefined;
let queues: EventQueues;

beforeAll(async () => {
  redis = await OwnRedis.create(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-rtt-')));
  await redis.start();
  connection = createRedisConnection(redis.url, { failFast: true });
  monitorSource = new IORedis(redis.url);
  queues = new EventQueues({ connection, prefix: 'rtt', statusRetentionSeconds: 60, dlqRetentionSeconds: 60 });
  await waitForRedis(connection);
});
afterAll(async () => {
  monitor?.disconnect();
  await monitorSource?.quit();
  await queues?.close();
  await connection?.quit();
  await redis?.kill();
});

it('sends exactly one command per accepted event', async () => {
  const producer = new EventProducer(queues);
  // The first add loads BullMQ's scripts; steady state is what counts.
  await producer.enqueue('echo', randomUUID(), '{}');
  const ours: string[] = [];
  monitor = await monitorSource.monitor();
  // MONITOR also lists the commands scripts run inside Redis (source "lua"): count round trips only.
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!source.includes('lua') && args.some((a) => typeof a === 'string' && a.includes('rtt:'))) ours.push(String(args[0]).toLowerCase());
  });
  const events = 20;
  for (let i = 0; i < events; i += 1) await producer.enqueue('echo', randomUUID(), `{"n":${i}}`);
  await waitFor(() => ours.length >= events, 5000, 'MONITOR to report the adds');
  // A moment for any straggling extra command to show up.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(ours).toHaveLength(events);
  expect(new Set(ours)).toEqual(new Set(['evalsha']));
});
