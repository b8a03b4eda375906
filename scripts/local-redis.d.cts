// Types for local-redis.cjs, so TypeScript tests import the same helper the scripts use.
/** AOF fsync policy; absent means no persistence at all. */
export type AppendFsync = 'always' | 'everysec';

export interface RedisServerOptions {
  /** Port to listen on (loopback only). Default: a free port, retried if another process takes it first. */
  port?: number;
  /** Data directory (created, kept). Default: a fresh temp dir, removed by `stop()` and `kill()`. */
  dir?: string;
  /** AOF with this `appendfsync` (`always`: nothing acknowledged is lost on a crash). Default: none. */
  aof?: AppendFsync;
  /** `--maxmemory` in bytes. Default: unlimited. The policy is always `noeviction`. */
  maxmemoryBytes?: number;
  /** `requirepass` (and `masterauth`); the handle's `url` carries it. Default: none. */
  password?: string;
  /** Own session, so a terminal Ctrl-C does not reach it. Default: false. */
  detached?: boolean;
  /** More redis-server arguments, after the helper's own (a later flag wins). */
  args?: string[];
  /** Deadline for the first PONG from this very process. Default: 10000. */
  timeoutMs?: number;
}

export interface RedisServer {
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  /** Settles when the process exits (or fails to spawn). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /** The last 16 KiB of its output. */
  logTail(): string;
  /** SIGTERM (Redis fsyncs its AOF), SIGKILL after `timeoutMs` (default 10000). Idempotent. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** SIGKILL, as a crash: no shutdown fsync. A given `dir` keeps its data for a restart. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing is answered, as when frozen or partitioned. */
  freeze(): void;
  /** SIGCONT after `freeze`. */
  thaw(): void;
}

export interface RedisClusterOptions {
  /** Default: 3. No replicas. */
  masters?: number;
  /** AOF on every node. Default: none. */
  aof?: AppendFsync;
  /** Every node's `requirepass` and `masterauth`. */
  password?: string;
  /** More redis-server arguments for every node. */
  args?: string[];
  /** Deadline for every node to say `cluster_state:ok` with its bus links connected. Default: 20000. */
  timeoutMs?: number;
}

export interface RedisCluster {
  /** `host:port,…`, as REDIS_CLUSTER_NODES takes it. */
  readonly nodes: string;
  readonly ports: number[];
  readonly servers: RedisServer[];
  readonly password: string | undefined;
  /** Stops every node (SIGKILL after `timeoutMs`, default 2000) and removes their dirs. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

/** A loopback port that was free a moment ago. */
export function freePort(host?: string): Promise<number>;
/** Absolute path of `redis-server` on PATH, or null. */
export function redisServerBinary(): string | null;
export function startRedisServer(options?: RedisServerOptions): Promise<RedisServer>;
export function startRedisCluster(options?: RedisClusterOptions): Promise<RedisCluster>;
