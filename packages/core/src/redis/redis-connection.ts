import IORedis, { Cluster, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config/load-config';

/** A connection to one Redis (direct or found through Sentinel) or to a Redis Cluster. */
export type RedisClient = IORedis | Cluster;

/** Under the contract's 2 s for a 503 when Redis is away, with room for the answer itself. */
const FAIL_FAST_COMMAND_TIMEOUT_MS = 1500;

export interface RedisConnectionOptions {
  /**
   * Fail commands at once while disconnected instead of buffering them, and after
   * FAIL_FAST_COMMAND_TIMEOUT_MS on a connection that is up but gets no answer (a frozen or
   * partitioned Redis never resets it): an API must answer 503 quickly, not hang, when Redis is
   * away. Workers keep the default and wait. The API issues no blocking commands.
   */
  failFast?: boolean;
  /**
   * Send the commands issued in one event-loop turn in one write (ioredis auto-pipelining). The
   * API's enqueues from concurrent requests then share a syscall and a Redis read.
   */
  autoPipelining?: boolean;
}

/** ioredis' own (private) parts, used as ioredis itself uses them when it stops reconnecting. */
interface IORedisInternals {
  reconnectTimeout: NodeJS.Timeout | null;
  setStatus(status: 'end'): void;
  flushQueue(error: Error): void;
}

/**
 * ioredis, with one fix: `disconnect()` between two reconnect attempts (status `reconnecting`)
 * clears the retry timer but has no socket left to close, so the connection never ends: no
 * `'end'`, and a queued command (BullMQ's BZPOPMIN) never fails. BullMQ's `Worker.close()` waits
 * for both and hung for good (bullmq#4656, #4065): seen here on a worker closed during or just
 * after a Redis outage. `duplicate()`, how BullMQ opens its blocking connection, keeps the fix.
 */
class EndingRedis extends IORedis {
  override disconnect(reconnect = false): void {
    // Ended already: ioredis would still arm a 2 s timer to destroy the closed socket.
    if (!reconnect && this.status === 'end') return;
    if (reconnect || this.status !== 'reconnecting') {
      super.disconnect(reconnect);
      return;
    }
    // The socket closed already (that is how a connection comes to wait for a reconnect), so
    // end it as ioredis does when its retry strategy gives up.
    const internals = this as unknown as IORedisInternals;
    if (internals.reconnectTimeout) clearTimeout(internals.reconnectTimeout);
    internals.reconnectTimeout = null;
    internals.setStatus('end');
    internals.flushQueue(new Error('Connection is closed.'));
  }

  /** Connections duplicated from this one (BullMQ's blocking connections) that have not ended. */
  readonly duplicates = new Set<IORedis>();

  override duplicate(override?: Partial<RedisOptions>): IORedis {
    return tracked(this.duplicates, new EndingRedis({ ...this.options, ...override }));
  }
}

/** Keeps `copy` in `duplicates` until it ends. */
function tracked<T extends RedisClient>(duplicates: Set<T>, copy: T): T {
  duplicates.add(copy);
  copy.once('end', () => duplicates.delete(copy));
  return copy;
}

/** ioredis' own (private) parts of a Cluster, used as ioredis itself uses them. */
interface ClusterInternals {
  startupNodes: ClusterNode[];
  setStatus(status: 'close'): void;
  handleCloseEvent(): void;
}

/**
 * ioredis' Cluster, with the same fix: between two reconnect attempts no node is connected, so
 * `disconnect()` leaves nothing to drain and the cluster never ends (seen here: a worker on a
 * Cluster whose nodes were all gone hung in close() for good). It then closes the cluster as
 * ioredis does when its nodes drain; being closed by hand, that ends it.
 */
class EndingCluster extends Cluster {
  override disconnect(reconnect = false): void {
    // Ended already: ioredis would mark it disconnecting again, and end it a second time.
    if (!reconnect && this.status === 'end') return;
    const betweenAttempts = this.status === 'reconnecting';
    super.disconnect(reconnect);
    if (reconnect || !betweenAttempts || this.status === 'end') return;
    const internals = this as unknown as ClusterInternals;
    internals.setStatus('close');
    internals.handleCloseEvent();
  }

  /** Clusters duplicated from this one (BullMQ's blocking connections) that have not ended. */
  readonly duplicates = new Set<Cluster>();

  override duplicate(overrideStartupNodes: ClusterNode[] = [], overrideOptions: ClusterOptions = {}): Cluster {
    const nodes = overrideStartupNodes.length > 0 ? overrideStartupNodes : (this as unknown as ClusterInternals).startupNodes.slice(0);
    return tracked(this.duplicates, new EndingCluster(nodes, { ...this.options, ...overrideOptions }));
  }
}

/**
 * Ends the connections BullMQ duplicated from `connection` for its blocking reads. A Worker's
 * close() first waits for its blocking connection to finish connecting (bullmq#4656): with Redis
 * away, for ever. Those connections only wait for new events, and close() would end them next
 * anyway, so ending them first loses nothing.
 */
export function endBlockingConnections(connection: RedisClient): void {
  const duplicates = connection instanceof EndingRedis || connection instanceof EndingCluster ? connection.duplicates : [];
  for (const copy of duplicates) copy.disconnect();
}

/**
 * Opens one ioredis connection to `where` (a target, or a `redis://` URL). BullMQ requires
 * `maxRetriesPerRequest: null` on connections handed to a Worker, and forbids ioredis'
 * `keyPrefix` (it uses its own `prefix`).
 * Every key invoq writes carries its function's hash tag (`invoq:{fn}:…`), so on a Cluster each
 * multi-key script stays on one slot and the functions spread over the masters.
 */
export function createRedisConnection(where: RedisTarget | string, options: RedisConnectionOptions = {}): RedisClient {
  const target: RedisTarget = typeof where === 'string' ? { kind: 'standalone', url: where } : where;
  const redisOptions: RedisOptions = options.failFast
    ? { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2000, commandTimeout: FAIL_FAST_COMMAND_TIMEOUT_MS }
    : { maxRetriesPerRequest: null };
  const autoPipelining = { enableAutoPipelining: options.autoPipelining ?? false };
  let connection: RedisClient;
  switch (target.kind) {
    case 'standalone':
      connection = new EndingRedis(target.url, { ...redisOptions, ...autoPipelining, lazyConnect: false });
      break;
    case 'sentinel':
      connection = new EndingRedis({
        ...redisOptions,
        ...autoPipelining,
        ...target.auth,
        sentinels: target.sentinels,
        name: target.masterName,
        sentinelPassword: target.sentinelPassword,
        lazyConnect: false,
      });
      break;
    case 'cluster':
      // The offline queue is a Cluster option; the per-node options go to every node.
      connection = new EndingCluster(target.nodes, {
        ...autoPipelining,
        enableOfflineQueue: redisOptions.enableOfflineQueue ?? true,
        redisOptions: { ...redisOptions, ...target.auth },
        lazyConnect: false,
      });
      break;
  }
  // Errors surface on commands; an unhandled 'error' event would only crash the process.
  connection.on('error', () => undefined);
  return connection;
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitForRedis(connection: RedisClient, timeoutMs = 5000): Promise<void> {
  if (connection.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.off('ready', onReady);
      reject(new Error(`Redis not reachable within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    connection.once('ready', onReady);
  });
}

/** Warnings worth a log line at start: BullMQ loses jobs without persistence or with eviction. */
export async function checkRedisDurability(connection: RedisClient): Promise<string[]> {
  const warnings: string[] = [];
  try {
    const [policy, aof] = await Promise.all([
      connection.config('GET', 'maxmemory-policy') as Promise<string[]>,
      connection.config('GET', 'appendonly') as Promise<string[]>,
    ]);
    if (policy[1] && policy[1] !== 'noeviction') {
      warnings.push(`Redis maxmemory-policy is "${policy[1]}": set "noeviction" or queued events can vanish`);
    }
    if (aof[1] !== 'yes') {
      warnings.push('Redis has no AOF persistence (appendonly no): a Redis restart loses queued events');
    }
  } catch {
    // CONFIG may be disabled (managed Redis): nothing to say then.
  }
  return warnings;
}

/**
 * Closes a connection for good: QUIT when connected (pending replies arrive first), otherwise a
 * plain disconnect, which also stops ioredis' reconnect timer (QUIT alone would leave it running
 * against a Redis that is away).
 */
export async function closeRedis(connection: RedisClient): Promise<void> {
  if (connection.status === 'end') return;
  if (connection.status === 'ready') {
    await connection.quit().catch(() => connection.disconnect());
  } else {
    connection.disconnect();
  }
}

/**
 * `work` (Redis commands), or an error once `timeoutMs` has passed. ioredis' commandTimeout
 * starts a command's clock only when the command is written, and an auto-pipeline is written
 * only after the one before it on the same slot has answered: against a frozen Redis, 20
 * concurrent enqueues took up to twice the timeout, and a first enqueue (two commands in turn)
 * as long. A deadline from the caller's side holds for every request, however its commands queue.
 * Commands already sent may still run once Redis answers again; callers undo or accept that.
 */
export async function withinDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`Redis did not answer ${what} within ${timeoutMs} ms`)), timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long the API's Redis work for one request may take before it answers 503. */
export const REQUEST_REDIS_DEADLINE_MS = FAIL_FAST_COMMAND_TIMEOUT_MS;

/**
 * PING with a deadline: a worker's connection waits through outages (it must, for BullMQ), so a
 * readiness probe needs its own limit to answer "not ready" instead of hanging.
 */
export async function pingRedis(connection: RedisClient, timeoutMs = 1000): Promise<void> {
  await withinDeadline(connection.ping(), timeoutMs, 'PING');
}
