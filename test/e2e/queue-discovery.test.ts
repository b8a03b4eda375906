/**
 * Finding function queues in Redis whatever this process loads: on one Redis and on a Cluster
 * (every master scanned), and the known set as it changes: a queue seen later is reported once,
 * a queue that empties drops out, and a worker's word that it loads a function lapses or is
 * withdrawn.
 */
import { randomUUID } from 'node:crypto';
import {
  EVENT_JOB_NAME,
  EventQueues,
  FunctionLoaders,
  KnownQueues,
  closeRedis,
  createRedisConnection,
  discoverFunctionQueues,
  waitForRedis,
  type KnownQueueNotice,
  type RedisClient,
} from '@invoq/core';
import { testRedisUrl, uniquePrefix, waitFor } from '../support/harness';
import { OwnRedisCluster } from '../support/redis-cluster';

const event = () => ({ v: 1 as const, payload: '{}', receivedAt: Date.now() });

async function fill(queues: EventQueues, names: readonly string[]): Promise<void> {
  for (const name of names) await queues.get(name).add(EVENT_JOB_NAME, event(), { jobId: randomUUID() });
}

describe('on one Redis', () => {
  const prefix = uniquePrefix('discovery');
  const connection = createRedisConnection(testRedisUrl());
  const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
  const loaders = new FunctionLoaders(connection, prefix, { heartbeatMs: 100, ttlMs: 300 });
  let known: KnownQueues | undefined;
  beforeAll(() => waitForRedis(connection));
  afterAll(async () => {
    await known?.close();
    await loaders.withdraw();
    await queues.close();
    await closeRedis(connection);
  });

  it('finds every function queue under the prefix, and nothing else', async () => {
    await fill(queues, ['alpha', 'beta']);
    // A destination queue and another prefix's queue are not this deployment's function queues.
    await connection.hset(`${prefix}:{alpha}-destinations:meta`, 'opts.maxLenEvents', '10');
    await connection.hset(`${prefix}x:{gamma}:meta`, 'opts.maxLenEvents', '10');
    expect(await discoverFunctionQueues(connection, prefix)).toEqual(['alpha', 'beta']);
  });

  it('keeps the known set as queues appear and empty, and reports a queue first seen later once', async () => {
    const notices: KnownQueueNotice[] = [];
    known = new KnownQueues({
      redis: connection,
      prefix,
      loaded: () => ['alpha'],
      loaders,
      discoverEveryMs: 0,
      noWorkerGraceMs: 0,
      onNotice: (n) => notices.push(n),
    });
    await known.start();
    expect(known.names().sort()).toEqual(['alpha', 'beta']);
    // alpha is loaded here but no worker said it loads it; beta is not loaded here.
    expect(notices.map((n) => `${n.kind}:${n.state.functionName}:${n.state.queued}`).sort()).toEqual(['no-worker:alpha:1', 'not-loaded-here:beta:1']);

    await fill(queues, ['delta', 'delta']);
    await known.refresh();
    await known.refresh();
    expect(known.has('delta')).toBe(true);
    expect(notices.filter((n) => n.state.functionName === 'delta')).toEqual([
      { kind: 'not-loaded-here', state: expect.objectContaining({ queued: 2, loadedHere: false, loadedByWorker: false }) },
    ]);

    // A worker says it loads alpha: the no-worker notice clears; withdrawn, it comes back.
    await loaders.announce(() => ['alpha']);
    await known.refresh();
    expect(known.loadedByWorker('alpha')).toBe(true);
    await loaders.withdraw();
    await known.refresh();
    expect(known.loadedByWorker('alpha')).toBe(false);
    expect(notices.filter((n) => n.kind === 'no-worker')).toHaveLength(2);

    // A queue that holds nothing any more drops out; its meta key stays, it is not known.
    await queues.get('beta').obliterate({ force: true });
    await connection.hset(`${prefix}:{beta}:meta`, 'opts.maxLenEvents', '10');
    await known.refresh();
    expect(known.names().sort()).toEqual(['alpha', 'delta']);
  });

  it("lets a killed worker's word lapse by itself", async () => {
    const other = new FunctionLoaders(connection, prefix, { heartbeatMs: 60_000, ttlMs: 300 });
    await other.announce(() => ['epsilon']);
    expect(await loaders.isLoaded('epsilon')).toBe(true);
    // No heartbeat follows within the TTL (as after SIGKILL): the word lapses.
    await waitFor(async () => !(await loaders.isLoaded('epsilon')), 5000, 'the word to lapse');
    await other.withdraw();
  });
});

const missing = OwnRedisCluster.missing();
const suite = missing.length > 0 && process.env.CI !== 'true' ? describe.skip : describe;

suite('on a 3-master Redis Cluster', () => {
  let cluster: OwnRedisCluster;
  let connection: RedisClient;
  let queues: EventQueues;
  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    connection = createRedisConnection({ kind: 'cluster', nodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) });
    await waitForRedis(connection, 10_000);
    queues = new EventQueues({ connection, prefix: 'invoq', statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
  }, 30_000);
  afterAll(async () => {
    await queues?.close();
    if (connection) await closeRedis(connection);
    await cluster?.stop();
  });

  it('scans every master, finding the queues each one holds', async () => {
    const names = ['orders', 'billing', 'emails', 'thumbnails', 'search', 'audit'];
    await fill(queues, names);
    // The functions really are spread: more than one master holds a meta key.
    const holders = await Promise.all(
      cluster.ports.map(async (port) => {
        const client = cluster.nodeClient(port);
        try {
          return (await client.keys('invoq:{*}:meta')).length;
        } finally {
          client.disconnect();
        }
      }),
    );
    expect(holders.filter((n) => n > 0).length).toBeGreaterThan(1);
    expect(await discoverFunctionQueues(connection, 'invoq')).toEqual([...names].sort());
  });
});
