import IORedis from 'ioredis';
import { redisServerBinary, startRedisCluster, type RedisCluster } from '../../scripts/local-redis.cjs';

const HOST = '127.0.0.1';

/**
 * A 3-master Redis Cluster (no replicas) of a test's own, from the system `redis-server`, on
 * loopback: each node on free ports, in a fresh temp dir, with AOF (`everysec`) and `noeviction`.
 * `start()` returns once every node says `cluster_state:ok`, knows every other and has its bus
 * link to each connected.
 */
export class OwnRedisCluster {
  private stopped: Promise<void> | undefined;

  private constructor(private readonly cluster: RedisCluster) {}

  /** Binaries the cluster needs that are not on PATH (empty: it can run here). */
  static missing(): string[] {
    return redisServerBinary() ? [] : ['redis-server'];
  }

  static available(): boolean {
    return OwnRedisCluster.missing().length === 0;
  }

  /** Starts the servers and forms the cluster; throws (with the servers' log tails) on failure. */
  static async start(timeoutMs = 15_000, { password }: { password?: string } = {}): Promise<OwnRedisCluster> {
    return new OwnRedisCluster(await startRedisCluster({ masters: 3, aof: 'everysec', password, timeoutMs }));
  }

  /** Every node's `requirepass` (and `masterauth`), when the cluster was started with one. */
  get password(): string | undefined {
    return this.cluster.password;
  }

  /** `host:port,host:port,host:port`, as REDIS_CLUSTER_NODES takes it. */
  get nodes(): string {
    return this.cluster.nodes;
  }

  get ports(): number[] {
    return this.cluster.ports;
  }

  /** A plain (non-cluster) connection to one node, e.g. to SCAN what that master holds. */
  nodeClient(port: number): IORedis {
    const client = new IORedis({ host: HOST, port, password: this.password, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => undefined);
    return client;
  }

  /** SIGKILL every node, wait for the exits, remove the data dirs. Safe to call twice. */
  stop(): Promise<void> {
    this.stopped ??= Promise.all(this.cluster.servers.map((s) => s.kill())).then(() => undefined);
    return this.stopped;
  }
}
