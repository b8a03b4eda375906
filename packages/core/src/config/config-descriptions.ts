import type { Env } from './config-schema';

/** Where a variable is listed in docs/configuration.md. */
export type VariableGroup = 'Redis' | 'Listening' | 'Functions and execution' | 'Async events' | 'Limits' | 'Auth and secrets' | 'Logs and runtime';

export interface VariableDescription {
  group: VariableGroup;
  /** What it means, in Markdown, for docs/configuration.md. */
  meaning: string;
  /** Words after the schema's default, where it needs them (what "none" means, a unit). */
  defaultNote?: string;
}

/**
 * What each variable of `envSchema` means: the one source of docs/configuration.md, generated
 * by `npm run docs:config`. Keyed by the schema's own keys, so a variable added to the schema
 * without a description here does not compile.
 */
export const CONFIG_DESCRIPTIONS: Record<keyof Env, VariableDescription> = {
  REDIS_URL: {
    group: 'Redis',
    meaning:
      "`redis://` or `rediss://` URL of the queue's Redis (one server; its password goes in the URL). A Cluster or Sentinel setting is used instead of it.",
    defaultNote: '(`npm start` starts its own embedded Redis; `npm run api` / `npm run worker` need one)',
  },
  REDIS_CLUSTER_NODES: {
    group: 'Redis',
    meaning:
      '`host:port,…` of a Redis Cluster (any reachable nodes; the rest are discovered), used instead of `REDIS_URL`. A bare IPv6 address goes in brackets: `[::1]:6379`.',
  },
  REDIS_SENTINELS: {
    group: 'Redis',
    meaning: 'Sentinel `host:port,…`, used instead of `REDIS_URL`; needs `REDIS_SENTINEL_NAME`. A Cluster and a Sentinel setting together stop the start.',
  },
  REDIS_SENTINEL_NAME: { group: 'Redis', meaning: 'the master name the Sentinels follow (followed on failover).' },
  REDIS_USERNAME: {
    group: 'Redis',
    meaning: "ACL user (if not `default`) of a Cluster's nodes or of the master a Sentinel names. Refused beside `REDIS_URL` alone (put it in the URL).",
  },
  REDIS_PASSWORD: {
    group: 'Redis',
    meaning: "password of a Cluster's nodes or of the master a Sentinel names. Refused beside `REDIS_URL` alone (put it in the URL).",
  },
  REDIS_SENTINEL_PASSWORD: { group: 'Redis', meaning: "the Sentinels' own password, when they require one." },
  PORT: { group: 'Listening', meaning: "the API's port." },
  HOST: {
    group: 'Listening',
    meaning: "the address the API (and the worker's metrics port) listen on. Auth off is allowed only on a loopback address.",
    defaultNote: '(`0.0.0.0` in the Docker image)',
  },
  INVOQ_METRICS_PORT: { group: 'Listening', meaning: "the worker's `/metrics`, `/healthz` and `/readyz`." },
  INVOQ_FUNCTIONS_DIR: {
    group: 'Functions and execution',
    meaning: 'where functions are loaded from: one folder per function, `<name>/function.json` and its handler.',
  },
  INVOQ_WORKER_CONCURRENCY: {
    group: 'Functions and execution',
    meaning:
      "async invocations one worker process runs at once, all functions together. It takes an event only into a free slot, from the functions' queues in turn, so one function's backlog cannot starve another.",
  },
  INVOQ_MAX_ENVIRONMENTS: {
    group: 'Functions and execution',
    meaning:
      'execution environments (threads, ~7 MB and ~11 ms to start each, measured here) one process may hold, all functions together. Process environments (Python, custom runtimes, Node with `isolation: "process"`) count too; each is a child process of its own (see docs/runtimes.md for what one costs).',
  },
  INVOQ_SYNC_WAIT_MS: {
    group: 'Functions and execution',
    meaning:
      'how long a sync invoke may wait for a free environment; after it the call gets an environment of its own if one can be had, else 429 `TooManyRequestsException` (Reason `ConcurrentInvocationLimitExceeded`).',
  },
  INVOQ_GATEWAY_TIMEOUT_MS: {
    group: 'Functions and execution',
    meaning:
      "integration timeout of gateway routes: a synchronous route answers 504 after it (API Gateway's 29 s), while the function runs on to its own timeout.",
    defaultNote: '(29 s)',
  },
  INVOQ_REGION: { group: 'Functions and execution', meaning: "a function's `AWS_REGION` and `AWS_DEFAULT_REGION`, and the region of its ARN." },
  INVOQ_RETRY_BASE_DELAY_MS: {
    group: 'Async events',
    meaning: "the delay before retry n is base × 2^(n−1), less up to 25% jitter: Lambda's ~1 min, then ~2 min.",
    defaultNote: '(1 min)',
  },
  INVOQ_STATUS_RETENTION_SECONDS: {
    group: 'Async events',
    meaning:
      "how long a finished event's status stays readable at `/invocations/{id}` (status records are slim: no payload; a result over 64 KB is kept as `resultTruncated: true`). Redis holds an hour of finished events at the default: size it for that, or lower this.",
    defaultNote: '(1 h)',
  },
  INVOQ_DLQ_RETENTION_SECONDS: {
    group: 'Async events',
    meaning:
      "how long a DLQ entry is kept if nobody deletes or redrives it (14 days, SQS's maximum). A finished bulk redrive's progress stays readable as long.",
    defaultNote: '(14 days)',
  },
  INVOQ_REDRIVE_MAX_WAITING: {
    group: 'Async events',
    meaning:
      "a bulk redrive moves a function's entries back only while fewer than this many of its events wait, so a live event waits behind at most that many redriven ones.",
  },
  INVOQ_QUEUE_DISCOVERY_SECONDS: {
    group: 'Async events',
    meaning:
      'how often each process scans Redis for function queues (those of functions it does not load too). The `SCAN` reads the whole keyspace, about 0.9 s of Redis time per million keys: raise it with many processes and a large backlog.',
  },
  INVOQ_QUEUE_PREFIX: {
    group: 'Async events',
    meaning:
      "Redis key prefix (letters, digits, `_`, `.`, `-`). Every key of one function carries that function's hash tag (`invoq:{fn}:…`), so multi-key scripts stay on one slot and functions spread over a Redis Cluster; nothing cross-function needs one key.",
  },
  INVOQ_SYNC_PAYLOAD_LIMIT: { group: 'Limits', meaning: 'sync request payload limit, bytes.', defaultNote: '(6 MB)' },
  INVOQ_ASYNC_PAYLOAD_LIMIT: {
    group: 'Limits',
    meaning: "async payload limit, bytes: the seed's figure, kept on purpose (AWS raised its own to 1 MB in 2025; set this to match).",
    defaultNote: '(256 KB)',
  },
  INVOQ_MAX_QUEUED_EVENTS: {
    group: 'Limits',
    meaning: 'queued events (all functions together: waiting, delayed, prioritized) beyond which `Event` answers 429 (`Reason: QueuedEventLimitExceeded`).',
  },
  INVOQ_MAX_REDIS_MEMORY_PERCENT: {
    group: 'Limits',
    meaning:
      "`Event` is refused with 429 (`Reason: RedisMemoryLimitExceeded`) once Redis's used memory reaches this share of its `maxmemory`; the rest is the workers' headroom. No effect when `maxmemory` is 0 (unlimited).",
  },
  INVOQ_MAX_CODE_BYTES: {
    group: 'Limits',
    meaning:
      'largest zip accepted by CreateFunction / UpdateFunctionCode (unzipped: 250 MB, as Lambda); a larger one answers 413 (RequestTooLargeException). GetAccountSettings reports it as `CodeSizeZipped`.',
    defaultNote: '(50 MB)',
  },
  INVOQ_CODE_CACHE_DIR: {
    group: 'Functions and execution',
    meaning:
      "where each process extracts deployed functions' code: `<dir>/<INVOQ_QUEUE_PREFIX>/<code hash>`, shared safely by processes on one host; code no function uses is removed after 10 minutes. The zips themselves live in Redis; this folder is a cache and may be emptied while nothing runs.",
    defaultNote: '(`<os.tmpdir()>/invoq-code`)',
  },
  INVOQ_PROCESS_SANDBOX: {
    group: 'Functions and execution',
    meaning:
      'how process environments (Python, custom runtimes, Node with `isolation: "process"`) are confined. `bubblewrap`: each in namespaces of its own through `bwrap` (its code at /var/task, a private /tmp and /proc, the host\'s /usr read-only, no capabilities; see docs/runtimes.md), and the process refuses to start without a working `bwrap`; `auto`: the same when `bwrap` works, else a plain child process, said at start; `none`: a plain child process (a clean environment, but the host\'s files readable).',
  },
  INVOQ_API_KEYS: { group: 'Auth and secrets', meaning: 'comma-separated keys accepted as `Authorization: Bearer KEY` or `x-api-key: KEY`.' },
  INVOQ_ADMIN_KEYS: { group: 'Auth and secrets', meaning: 'keys that may also use the DLQ and queue admin endpoints (and see `Environment` in GetFunction).' },
  INVOQ_AWS_CREDENTIALS: {
    group: 'Auth and secrets',
    meaning: 'comma-separated `ACCESS_KEY_ID:SECRET` pairs accepted through AWS SigV4 (SDKs, CLI); a `:admin` suffix makes a pair an admin one.',
  },
  INVOQ_AUTH: {
    group: 'Auth and secrets',
    meaning:
      '`off` turns auth off; only allowed when `HOST` is a loopback address. With no keys configured and `NODE_ENV` not `production`, auth is off on loopback anyway, and the start says so.',
  },
  INVOQ_DESTINATION_SECRET: { group: 'Auth and secrets', meaning: 'HMAC key for signing destination deliveries (`X-Invoq-Signature`); unsigned when unset.' },
  REDIS_URL_FILE: {
    group: 'Auth and secrets',
    meaning: 'a file holding `REDIS_URL` (see [secrets as files](operations.md#secrets-as-files)); `npm start` starts no Redis of its own when it is set.',
  },
  REDIS_PASSWORD_FILE: { group: 'Auth and secrets', meaning: 'a file holding `REDIS_PASSWORD`.' },
  REDIS_SENTINEL_PASSWORD_FILE: { group: 'Auth and secrets', meaning: 'a file holding `REDIS_SENTINEL_PASSWORD`.' },
  INVOQ_API_KEYS_FILE: { group: 'Auth and secrets', meaning: 'a file holding `INVOQ_API_KEYS`.' },
  INVOQ_ADMIN_KEYS_FILE: { group: 'Auth and secrets', meaning: 'a file holding `INVOQ_ADMIN_KEYS`.' },
  INVOQ_AWS_CREDENTIALS_FILE: { group: 'Auth and secrets', meaning: 'a file holding `INVOQ_AWS_CREDENTIALS`.' },
  INVOQ_DESTINATION_SECRET_FILE: { group: 'Auth and secrets', meaning: 'a file holding `INVOQ_DESTINATION_SECRET`.' },
  LOG_LEVEL: { group: 'Logs and runtime', meaning: "pino level of both tiers' JSON logs." },
  NODE_ENV: { group: 'Logs and runtime', meaning: '`production` refuses to start with auth on and no keys configured.' },
};
