import os from 'node:os';
import path from 'node:path';
import { SECRET_VARIABLES, envSchema } from './config-schema';
import { ConfigError } from './config-error';
import { readSecretFiles, type ReadSecretFile } from './secret-files';

export { ConfigError };

const SECRETS: ReadonlySet<string> = new Set(SECRET_VARIABLES);

export interface AccessKey {
  accessKeyId: string;
  secret: string;
  admin: boolean;
}

export interface HostPort {
  host: string;
  port: number;
}

/** ACL user and password of the data nodes (a Cluster's, or the master Sentinel names). */
export interface RedisAuth {
  username?: string;
  password?: string;
}

/**
 * Where Redis is: one server (credentials in its URL), a Cluster, or a master found through
 * Sentinel (credentials from REDIS_USERNAME / REDIS_PASSWORD; the Sentinels' own from
 * REDIS_SENTINEL_PASSWORD).
 */
export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: HostPort[]; auth?: RedisAuth }
  | { kind: 'sentinel'; sentinels: HostPort[]; masterName: string; auth?: RedisAuth; sentinelPassword?: string };

export interface ResolvedConfig {
  /** undefined: the caller decides (npm start finds or starts a Redis). */
  redis: RedisTarget | undefined;
  port: number;
  host: string;
  functionsDir: string;
  /** INVOQ_CODE_CACHE_DIR: where deployed functions' zips are extracted (a cache; Redis holds the zips). */
  codeCacheDir: string;
  /** INVOQ_PROCESS_SANDBOX: how process environments are confined (resolved at start: see sandbox.ts). */
  processSandbox: 'auto' | 'bubblewrap' | 'none';
  /** INVOQ_MAX_CODE_BYTES: the largest zip CreateFunction / UpdateFunctionCode accept. */
  maxCodeBytes: number;
  workerConcurrency: number;
  maxEnvironments: number;
  syncWaitMs: number;
  metricsPort: number;
  retryBaseDelayMs: number;
  syncPayloadLimitBytes: number;
  asyncPayloadLimitBytes: number;
  maxQueuedEvents: number;
  /**
   * INVOQ_MAX_REDIS_MEMORY_PERCENT: `Event` is refused once Redis's used memory reaches this
   * share of its `maxmemory`; the rest is the workers' headroom. No effect without `maxmemory`.
   */
  maxRedisMemoryPercent: number;
  gatewayTimeoutMs: number;
  statusRetentionSeconds: number;
  dlqRetentionSeconds: number;
  /** A bulk redrive moves entries back only while fewer of the function's events wait. */
  redriveMaxWaiting: number;
  /**
   * How often each process scans Redis for function queues it does not load (a SCAN reads the
   * whole keyspace: ~0.9 ms of Redis time per 1,000 keys, measured here).
   */
  queueDiscoverySeconds: number;
  auth: {
    enabled: boolean;
    apiKeys: ReadonlySet<string>;
    adminKeys: ReadonlySet<string>;
    accessKeys: ReadonlyMap<string, AccessKey>;
  };
  destinationSecret: string | undefined;
  queuePrefix: string;
  /** The region functions run in: their `AWS_REGION` / `AWS_DEFAULT_REGION` and their ARNs. */
  region: string;
  logLevel: string;
  production: boolean;
  /** Human-readable notes to log at start (e.g. auth turned off). */
  startupNotices: string[];
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function parseAccessKeys(entries: string[]): Map<string, AccessKey> {
  const keys = new Map<string, AccessKey>();
  for (const entry of entries) {
    const parts = entry.split(':');
    const [accessKeyId, secret, flag] = parts;
    if (!accessKeyId || !secret || parts.length > 3 || (flag !== undefined && flag !== 'admin')) {
      throw new ConfigError('INVOQ_AWS_CREDENTIALS: each entry must be ACCESS_KEY_ID:SECRET or ACCESS_KEY_ID:SECRET:admin');
    }
    keys.set(accessKeyId, { accessKeyId, secret, admin: flag === 'admin' });
  }
  return keys;
}

/**
 * Where Redis is. As the contract says, a Cluster or Sentinel setting is used instead of
 * `REDIS_URL` (which `npm start` or a leftover environment may still carry; a notice says it is
 * ignored); a Cluster and a Sentinel together are an error.
 */
function redisTarget(
  e: {
    REDIS_URL?: string;
    REDIS_CLUSTER_NODES: HostPort[];
    REDIS_SENTINELS: HostPort[];
    REDIS_SENTINEL_NAME?: string;
    REDIS_USERNAME?: string;
    REDIS_PASSWORD?: string;
    REDIS_SENTINEL_PASSWORD?: string;
  },
  notices: string[],
): RedisTarget | undefined {
  if (e.REDIS_CLUSTER_NODES.length > 0 && e.REDIS_SENTINELS.length > 0) {
    throw new ConfigError('REDIS_CLUSTER_NODES, REDIS_SENTINELS: set only one of them');
  }
  if (e.REDIS_SENTINELS.length > 0 && !e.REDIS_SENTINEL_NAME)
    throw new ConfigError('REDIS_SENTINEL_NAME: REDIS_SENTINELS needs the name of the master to follow');
  if (e.REDIS_SENTINEL_NAME && e.REDIS_SENTINELS.length === 0) throw new ConfigError('REDIS_SENTINELS: REDIS_SENTINEL_NAME is set but no sentinel is');
  const instead = e.REDIS_CLUSTER_NODES.length > 0 ? 'REDIS_CLUSTER_NODES' : e.REDIS_SENTINELS.length > 0 ? 'REDIS_SENTINELS' : undefined;
  if (instead && e.REDIS_URL) notices.push(`REDIS_URL is ignored: ${instead} is set`);
  const auth = e.REDIS_USERNAME || e.REDIS_PASSWORD ? { username: e.REDIS_USERNAME, password: e.REDIS_PASSWORD } : undefined;
  if (e.REDIS_SENTINEL_PASSWORD && e.REDIS_SENTINELS.length === 0) throw new ConfigError('REDIS_SENTINEL_PASSWORD: set, but REDIS_SENTINELS is not');
  if (e.REDIS_CLUSTER_NODES.length > 0) return { kind: 'cluster', nodes: e.REDIS_CLUSTER_NODES, auth };
  if (e.REDIS_SENTINELS.length > 0) {
    return { kind: 'sentinel', sentinels: e.REDIS_SENTINELS, masterName: e.REDIS_SENTINEL_NAME!, auth, sentinelPassword: e.REDIS_SENTINEL_PASSWORD };
  }
  // One URL says it all; a password beside it would be silently one of two.
  if (auth)
    throw new ConfigError(
      `${e.REDIS_PASSWORD ? 'REDIS_PASSWORD' : 'REDIS_USERNAME'}: only for REDIS_CLUSTER_NODES or REDIS_SENTINELS; with REDIS_URL, put it in the URL (redis://user:password@host:6379)`,
    );
  return e.REDIS_URL ? { kind: 'standalone', url: e.REDIS_URL } : undefined;
}

/**
 * Validates the environment once, at start, reading the files that `<SECRET>_FILE` variables
 * name (`readSecretFile`, for tests). Throws a `ConfigError` whose message is one line naming the
 * offending variable; it never quotes a secret's value.
 */
export function loadConfig(env: Record<string, string | undefined>, readSecretFile?: ReadSecretFile): ResolvedConfig {
  // Empty strings mean "unset", as a shell `VAR=` usually intends.
  const startupNotices: string[] = [];
  const given = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
  const cleaned = readSecretFiles(given, startupNotices, readSecretFile);
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? 'environment');
    const got = SECRETS.has(name) ? 'a value not shown: it is a secret' : JSON.stringify(cleaned[name] ?? null);
    throw new ConfigError(`${name}: ${issue?.message ?? 'invalid'} (got ${got})`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const adminKeys = new Set(e.INVOQ_ADMIN_KEYS);
  // Admin keys are API keys too.
  const apiKeys = new Set([...e.INVOQ_API_KEYS, ...adminKeys]);
  const accessKeys = parseAccessKeys(e.INVOQ_AWS_CREDENTIALS);
  const hasKeys = apiKeys.size > 0 || accessKeys.size > 0;
  const loopback = isLoopbackHost(e.HOST);

  let enabled = e.INVOQ_AUTH === 'on';
  if (!enabled && !loopback) {
    throw new ConfigError(`INVOQ_AUTH: "off" is only allowed when HOST is a loopback address (HOST is ${e.HOST})`);
  }
  if (enabled && !hasKeys) {
    if (production) {
      throw new ConfigError(
        'INVOQ_API_KEYS: NODE_ENV=production needs INVOQ_API_KEYS, INVOQ_ADMIN_KEYS or INVOQ_AWS_CREDENTIALS (or INVOQ_AUTH=off on loopback)',
      );
    }
    if (!loopback) {
      throw new ConfigError(`INVOQ_API_KEYS: no keys configured and HOST ${e.HOST} is not loopback; set keys or bind to 127.0.0.1`);
    }
    enabled = false;
    startupNotices.push('auth is off: no INVOQ_API_KEYS / INVOQ_AWS_CREDENTIALS set and HOST is loopback');
  } else if (!enabled) {
    startupNotices.push('auth is off (INVOQ_AUTH=off, loopback only)');
  }

  return {
    redis: redisTarget(e, startupNotices),
    port: e.PORT,
    host: e.HOST,
    functionsDir: path.resolve(e.INVOQ_FUNCTIONS_DIR),
    codeCacheDir: path.resolve(e.INVOQ_CODE_CACHE_DIR ?? path.join(os.tmpdir(), 'invoq-code')),
    maxCodeBytes: e.INVOQ_MAX_CODE_BYTES,
    processSandbox: e.INVOQ_PROCESS_SANDBOX,
    workerConcurrency: e.INVOQ_WORKER_CONCURRENCY,
    maxEnvironments: e.INVOQ_MAX_ENVIRONMENTS,
    syncWaitMs: e.INVOQ_SYNC_WAIT_MS,
    metricsPort: e.INVOQ_METRICS_PORT,
    retryBaseDelayMs: e.INVOQ_RETRY_BASE_DELAY_MS,
    syncPayloadLimitBytes: e.INVOQ_SYNC_PAYLOAD_LIMIT,
    asyncPayloadLimitBytes: e.INVOQ_ASYNC_PAYLOAD_LIMIT,
    maxQueuedEvents: e.INVOQ_MAX_QUEUED_EVENTS,
    maxRedisMemoryPercent: e.INVOQ_MAX_REDIS_MEMORY_PERCENT,
    gatewayTimeoutMs: e.INVOQ_GATEWAY_TIMEOUT_MS,
    statusRetentionSeconds: e.INVOQ_STATUS_RETENTION_SECONDS,
    dlqRetentionSeconds: e.INVOQ_DLQ_RETENTION_SECONDS,
    redriveMaxWaiting: e.INVOQ_REDRIVE_MAX_WAITING,
    queueDiscoverySeconds: e.INVOQ_QUEUE_DISCOVERY_SECONDS,
    auth: { enabled, apiKeys, adminKeys, accessKeys },
    destinationSecret: e.INVOQ_DESTINATION_SECRET,
    queuePrefix: e.INVOQ_QUEUE_PREFIX,
    region: e.INVOQ_REGION,
    logLevel: e.LOG_LEVEL,
    production,
    startupNotices,
  };
}
