/**
 * The Event path must stay one Redis round trip per event: it is what lets it keep up with (and
 * later beat) a bare express + Queue.add. MONITOR shows every command Redis receives.
 */
import { randomUUID } from 'node:crypto';
import type IORedis from 'ioredis';
import { EventProducer, EventQueues, createRedisConnection, waitForRedis } from '@invoq/core';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const prefix = uniquePrefix('rtt');
const connection = createRedisConnection(testRedisUrl(), { failFast: true });
const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 60, dlqRetentionSeconds: 60 });
const producer = new EventProducer(queues);
const monitorSource = createRedisConnection(testRedisUrl());
let monitor: IORedis | undefined;

afterAll(async () => {
  monitor?.disconnect();
  await monitorSource.quit();
  await queues.close();
  await connection.quit();
});

it('sends exactly one command per accepted event', async () => {
  await waitForRedis(connection);
  // The first add loads BullMQ's scripts; steady state is what counts.
  await producer.enqueue('echo', randomUUID(), '{}');
  const ours: string[] = [];
  monitor = await monitorSource.monitor();
  // MONITOR also lists the commands scripts run inside Redis (source "lua"): count round trips only.
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (!source.includes('lua') && args.some((a) => typeof a === 'string' && a.includes(`${prefix}:`))) ours.push(String(args[0]).toLowerCase());
  });
  const events = 20;
  for (let i = 0; i < events; i += 1) await producer.enqueue('echo', randomUUID(), `{"n":${i}}`);
  await waitFor(() => ours.length >= events, 5000, 'MONITOR to report the adds');
  // A moment for any straggling extra command to show up.
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(ours).toHaveLength(events);
  expect(new Set(ours)).toEqual(new Set(['evalsha']));
});
