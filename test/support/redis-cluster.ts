import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { freePort, waitFor } from './harness';

const HOST = '127.0.0.1';
const SLOTS = 16384;
const MASTERS = 3;
const LOG_TAIL = 8 * 1024;

interface ClusterNode {
  port: number;
  busPort: number;
  dir: string;
  child: ChildProcess;
  exited: Promise<void>;
  log(): string;
}

/** Absolute path of `bin` on PATH, or undefined. */
function onPath(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, bin);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Major version of the system redis-server (7 has `--cluster-port` and ADDSLOTSRANGE). */
function redisMajor(): number {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return Number(/v=(\d+)\./.exec(out)?.[1] ?? 0);
}

/** `[start, end]` slot ranges, one per master, as `redis-cli --cluster create` splits them. */
function slotRanges(masters: number): Array<[number, number]> {
  const per = SLOTS / masters;
  return Array.from({ length: masters }, (_, i) => [Math.round(i * per), Math.round((i + 1) * per) - 1]);
}

/**
 * A 3-master Redis Cluster (no replicas) of a test's own, from the system `redis-server`, on
 * loopback: each node on free ports, in a fresh temp dir, with AOF (`everysec`) and `noeviction`.
 * The cluster is formed over plain connections (config epochs, slot ranges, MEET), which is what
 * `redis-cli --cluster create` does without its one-second waits; `start()` returns once every
 * node says `cluster_state:ok` and knows every other.
 */
export class OwnRedisCluster {
  private stopped: Promise<void> | undefined;
  private readonly killOnExit = () => {
    for (const node of this.clusterNodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
    for (const node of this.clusterNodes) fs.rmSync(node.dir, { recursive: true, force: true });
  };

  private constructor(
    private readonly clusterNodes: ClusterNode[],
    /** Every node's `requirepass` (and `masterauth`), when the cluster was started with one. */
    readonly password: string | undefined,
  ) {
    process.on('exit', this.killOnExit);
  }

  /** Binaries the cluster needs that are not on PATH (empty: it can run here). */
  static missing(): string[] {
    return onPath('redis-server') ? [] : ['redis-server'];
  }

  static available(): boolean {
    return OwnRedisCluster.missing().length === 0;
  }

  /** Starts the servers and forms the cluster; throws (with the servers' log tails) on failure. */
  static async start(timeoutMs = 15_000, { password }: { password?: string } = {}): Promise<OwnRedisCluster> {
    const major = redisMajor();
    const nodes: ClusterNode[] = [];
    try {
      const started = await Promise.allSettled(Array.from({ length: MASTERS }, () => startNode(major, password)));
      for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      await formCluster(nodes, major, timeoutMs, password);
    } catch (err) {
      await Promise.all(nodes.map(killNode));
      throw err;
    }
    return new OwnRedisCluster(nodes, password);
  }

  /** `host:port,host:port,host:port`, as REDIS_CLUSTER_NODES takes it. */
  get nodes(): string {
    return this.clusterNodes.map((n) => `${HOST}:${n.port}`).join(',');
  }

  get ports(): number[] {
    return this.clusterNodes.map((n) => n.port);
  }

  /** A plain (non-cluster) connection to one node, e.g. to SCAN what that master holds. */
  nodeClient(port: number): IORedis {
    const client = new IORedis({ host: HOST, port, password: this.password, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => undefined);
    return client;
  }

  /** SIGKILL every node, wait for the exits, remove the data dirs. Safe to call twice. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await Promise.all(this.clusterNodes.map(killNode));
      process.off('exit', this.killOnExit);
    })();
    return this.stopped;
  }
}

async function killNode(node: ClusterNode): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
  await node.exited;
  fs.rmSync(node.dir, { recursive: true, force: true });
}

/**
 * One cluster-enabled redis-server on free ports, answering PING. Redis 7 takes the cluster bus
 * port explicitly (`--cluster-port`): the default, port + 10000, is over 65535 for a third of the
 * kernel's ephemeral range, where redis-server refuses to start. A port taken between
 * `freePort()` and the bind (another jest worker) is retried with new ports.
 */
async function startNode(major: number, password: string | undefined): Promise<ClusterNode> {
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= 5; attempt += 1) {
    let port = await freePort();
    let busPort = await freePort();
    if (major < 7) {
      // No --cluster-port: the bus is port + 10000, so the port must be ≤ 55535.
      while (port > 55535) port = await freePort();
      busPort = port + 10000;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-cluster-'));
    const args = [
      '--port', String(port),
      '--bind', HOST,
      '--daemonize', 'no',
      '--dir', dir,
      '--cluster-enabled', 'yes',
      '--cluster-config-file', path.join(dir, 'nodes.conf'),
      ...(major >= 7 ? ['--cluster-port', String(busPort)] : []),
      '--appendonly', 'yes',
      '--appendfsync', 'everysec',
      '--save', '',
      '--maxmemory-policy', 'noeviction',
      ...(password ? ['--requirepass', password, '--masterauth', password] : []),
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-LOG_TAIL));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exited = false;
    const exitedPromise = new Promise<void>((resolve) => {
      child.once('exit', () => ((exited = true), resolve()));
      child.once('error', (err) => ((exited = true), keep(Buffer.from(`\n${err.message}\n`)), resolve()));
    });
    const node: ClusterNode = { port, busPort, dir, child, exited: exitedPromise, log: () => tail };
    const probe = new IORedis({ host: HOST, port, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
    probe.on('error', () => undefined);
    let failure: Error | undefined;
    try {
      await waitFor(async () => {
        if (exited) return 'exited';
        if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
        if (probe.status !== 'ready') return false;
        // Our own process, not whatever else answers on a port we lost in a race.
        const info = String(await probe.info('server').catch(() => ''));
        return infoField(info, 'process_id') === String(child.pid) && 'up';
      }, 10_000, `redis-server on port ${port} to answer`);
    } catch (err) {
      failure = err as Error;
    } finally {
      probe.disconnect();
    }
    if (!exited && !failure) return node;
    await killNode(node);
    lastError = new Error(`redis-server (cluster node, port ${port}, bus ${busPort}) did not start: ${failure?.message ?? 'exited'}\n--- its output ---\n${tail.trim()}`);
    // Only a lost race for a port is worth another try.
    if (!/address already in use/i.test(tail)) break;
  }
  throw lastError!;
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(\\S+)`, 'm').exec(info)?.[1];
}

/** Config epochs and slots on every node, MEET from the first, then wait until all agree. */
async function formCluster(nodes: ClusterNode[], major: number, timeoutMs: number, password: string | undefined): Promise<void> {
  const clients = nodes.map((n) => {
    const c = new IORedis({ host: HOST, port: n.port, password, maxRetriesPerRequest: 1, retryStrategy: () => null });
    c.on('error', () => undefined);
    return c;
  });
  try {
    const ranges = slotRanges(nodes.length);
    await Promise.all(
      clients.map(async (c, i) => {
        // Distinct epochs up front, as redis-cli does, so no epoch collision has to be resolved.
        await c.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
        const [start, end] = ranges[i]!;
        if (major >= 7) await c.call('CLUSTER', 'ADDSLOTSRANGE', String(start), String(end));
        else await c.call('CLUSTER', 'ADDSLOTS', ...Array.from({ length: end - start + 1 }, (_, k) => String(start + k)));
      }),
    );
    for (const n of nodes.slice(1)) {
      await clients[0]!.call('CLUSTER', 'MEET', HOST, String(n.port), ...(major >= 7 ? [String(n.busPort)] : []));
    }
    await waitFor(
      async () => {
        for (const [i, c] of clients.entries()) {
          if (nodes[i]!.child.exitCode !== null) throw new Error(`cluster node ${nodes[i]!.port} exited:\n${nodes[i]!.log()}`);
          const info = String(await c.call('CLUSTER', 'INFO'));
          if (infoField(info, 'cluster_state') !== 'ok') return false;
          if (infoField(info, 'cluster_known_nodes') !== String(nodes.length)) return false;
          if (infoField(info, 'cluster_slots_ok') !== String(SLOTS)) return false;
        }
        return true;
      },
      timeoutMs,
      `every node of the cluster (ports ${nodes.map((n) => n.port).join(', ')}) to say cluster_state:ok`,
    );
  } finally {
    for (const c of clients) c.disconnect();
  }
}
