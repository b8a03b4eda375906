import { randomBytes } from 'node:crypto';
import type { ResolvedFunction } from '../functions/resolved-function';
import { LAMBDA_RUNTIMES, runtimeFamily } from '../functions/runtimes';

/**
 * Names Lambda reserves: its runtime sets them, and CreateFunction refuses them in a function's
 * environment (Lambda's "Defined runtime environment variables"). `function.json` refuses them
 * too, so a function never sees a value other than the runtime's.
 */
export const RESERVED_ENVIRONMENT_VARIABLES: ReadonlySet<string> = new Set([
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_DEFAULT_REGION',
  'AWS_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_LAMBDA_RUNTIME_API',
  'LAMBDA_TASK_ROOT',
  'LAMBDA_RUNTIME_DIR',
  'TZ',
]);

/** Lambda's runtime identifier for the Node.js that runs invoq: `nodejs20.x`, `nodejs22.x`, … */
export function nodeRuntimeName(): string {
  return `nodejs${process.versions.node.split('.')[0]}.x`;
}

/** Lambda's time zone, for the environment's `TZ`. */
export const LAMBDA_TIME_ZONE = ':UTC';

/** Variables of the service's own environment a function also sees; never its secrets. */
const INHERITED = ['PATH', 'LANG', 'HOME'];

/** `2026/12/01/[$LATEST]<32 hex>`: Lambda's log stream name, one per execution environment. */
export function newLogStreamName(now = new Date()): string {
  return `${now.toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

export interface LambdaEnvironmentOptions {
  /** `AWS_REGION` and `AWS_DEFAULT_REGION` (INVOQ_REGION). */
  region: string;
  logStreamName: string;
  /** Where invoq's runtime code lives: `LAMBDA_RUNTIME_DIR`. */
  runtimeDir: string;
  /** The service's own environment, of which only PATH, LANG and HOME pass. */
  serviceEnv: Readonly<Record<string, string | undefined>>;
  /** `LAMBDA_TASK_ROOT`, as the function sees its code folder: `fn.directory`, or `/var/task` in a sandbox. */
  taskRoot?: string;
  /** Variables a process environment adds or replaces (AWS_LAMBDA_RUNTIME_API, PATH, TMPDIR, …). */
  overrides?: Record<string, string>;
}

/** `AWS_EXECUTION_ENV`: `AWS_Lambda_<runtime>`, the host's Node for a legacy `nodejs` one. */
function executionEnvOf(fn: ResolvedFunction): string {
  const runtime = (LAMBDA_RUNTIMES as readonly string[]).includes(fn.config.runtime) ? fn.config.runtime : nodeRuntimeName();
  return `AWS_Lambda_${runtime}`;
}

/**
 * The environment of one execution environment, as Lambda's Node.js runtime sets it, then the
 * function's own `environment` (which cannot hold reserved names). `_X_AMZN_TRACE_ID` is set
 * per invocation, inside the environment.
 */
export function lambdaEnvironment(fn: ResolvedFunction, options: LambdaEnvironmentOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = options.serviceEnv[key];
    if (value !== undefined) env[key] = value;
  }
  const taskRoot = options.taskRoot ?? fn.directory;
  Object.assign(env, {
    AWS_EXECUTION_ENV: executionEnvOf(fn),
    AWS_LAMBDA_FUNCTION_NAME: fn.name,
    AWS_LAMBDA_FUNCTION_VERSION: fn.version,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.config.memorySize),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: options.logStreamName,
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_REGION: options.region,
    AWS_DEFAULT_REGION: options.region,
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: options.runtimeDir,
    _HANDLER: fn.config.handler ?? '',
    TZ: LAMBDA_TIME_ZONE,
  });
  // Lambda's ends with /var/task, so `require('lib/x')` finds the function's own lib/x.js.
  if (runtimeFamily(fn.config.runtime) === 'nodejs') env.NODE_PATH = taskRoot;
  Object.assign(env, options.overrides);
  return Object.assign(env, fn.config.environment);
}
