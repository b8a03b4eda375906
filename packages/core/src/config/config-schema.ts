import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
/** Comma-separated list; empty entries dropped. */
const csv = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  );

/** `host:port,…` (empty entries dropped); a bare IPv6 address goes in brackets: `[::1]:6379`. */
const hostPorts = csv.pipe(
  z.array(
    z
      .string()
      .regex(/^(\[[0-9A-Fa-f:.]+\]|[^:\s[\]]+):\d{1,5}$/, 'each entry must be host:port')
      .transform((entry) => {
        const at = entry.lastIndexOf(':');
        return { host: entry.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(entry.slice(at + 1)) };
      }),
  ),
);

/**
 * The variables that hold secrets. Each may instead be given as `<NAME>_FILE`, the path of a file
 * holding it (Compose and Kubernetes secrets), so that the process environment, which every
 * thread of the process can read in `/proc/self/environ`, holds no secret. `REDIS_URL` is one
 * because it carries the password of a standalone Redis.
 */
export const SECRET_VARIABLES = [
  'REDIS_URL',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'INVOQ_API_KEYS',
  'INVOQ_ADMIN_KEYS',
  'INVOQ_AWS_CREDENTIALS',
  'INVOQ_DESTINATION_SECRET',
] as const;

export type SecretVariable = (typeof SECRET_VARIABLES)[number];

const secretFileSchema = Object.fromEntries(SECRET_VARIABLES.map((name) => [`${name}_FILE`, z.string().min(1).optional()])) as Record<
  `${SecretVariable}_FILE`,
  z.ZodOptional<z.ZodString>
>;

/**
 * Every environment variable invoq reads, with the contract's defaults.
 * `loadConfig` is the only reader of `process.env`.
 */
export const envSchema = z.object({
  ...secretFileSchema,
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_CLUSTER_NODES: hostPorts,
  REDIS_SENTINELS: hostPorts,
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  INVOQ_FUNCTIONS_DIR: z.string().min(1).default('./functions'),
  INVOQ_WORKER_CONCURRENCY: positiveInt.default(32),
  INVOQ_MAX_ENVIRONMENTS: positiveInt.default(16),
  INVOQ_SYNC_WAIT_MS: nonNegativeInt.default(1000),
  INVOQ_METRICS_PORT: port.default(9091),
  INVOQ_RETRY_BASE_DELAY_MS: nonNegativeInt.default(60_000),
  INVOQ_SYNC_PAYLOAD_LIMIT: positiveInt.default(6_291_456),
  INVOQ_ASYNC_PAYLOAD_LIMIT: positiveInt.default(262_144),
  INVOQ_MAX_QUEUED_EVENTS: positiveInt.default(1_000_000),
  INVOQ_MAX_REDIS_MEMORY_PERCENT: z.coerce.number().int().min(1).max(100).default(90),
  INVOQ_GATEWAY_TIMEOUT_MS: positiveInt.default(29_000),
  INVOQ_STATUS_RETENTION_SECONDS: positiveInt.default(3600),
  INVOQ_DLQ_RETENTION_SECONDS: positiveInt.default(1_209_600),
  INVOQ_REDRIVE_MAX_WAITING: positiveInt.default(100),
  INVOQ_QUEUE_DISCOVERY_SECONDS: positiveInt.default(60),
  INVOQ_MAX_CODE_BYTES: positiveInt.default(52_428_800),
  INVOQ_CODE_CACHE_DIR: z.string().min(1).optional(),
  INVOQ_PROCESS_SANDBOX: z.enum(['auto', 'bubblewrap', 'none']).default('auto'),
  INVOQ_API_KEYS: csv,
  INVOQ_ADMIN_KEYS: csv,
  INVOQ_AWS_CREDENTIALS: csv,
  INVOQ_AUTH: z.enum(['on', 'off']).default('on'),
  INVOQ_DESTINATION_SECRET: z.string().min(1).optional(),
  INVOQ_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, "_", "." and "-" only (no ":" or braces)')
    .default('invoq'),
  INVOQ_REGION: z
    .string()
    .regex(/^[a-z]{2}(-gov)?-[a-z]+-\d$/, 'must be an AWS region name such as us-east-1')
    .default('us-east-1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().optional(),
});

export type Env = z.infer<typeof envSchema>;
