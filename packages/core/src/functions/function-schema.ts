import { z } from 'zod';
import { destinationSchema } from '../destinations/destination-target';
import { RESERVED_ENVIRONMENT_VARIABLES, nodeRuntimeName } from '../execution/lambda-environment';
import { LAMBDA_RUNTIMES, runtimeFamily, type LambdaRuntime } from './runtimes';

export const FUNCTION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const routeSchema = z.strictObject({
  method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY']),
  path: z.string().startsWith('/'),
  invocationType: z.enum(['RequestResponse', 'Event']).optional(),
  auth: z.enum(['none', 'key']).optional(),
});

/** Lambda's asynchronous-invocation settings for what a configuration leaves out. */
export const LAMBDA_ASYNC_DEFAULTS = { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 } as const;

/** `function.json`'s `async` block: only what it sets (defaults are applied apart, see below). */
const asyncOptionsSchema = z.strictObject({
  maximumRetryAttempts: z.number().int().min(0).max(2).optional(),
  maximumEventAgeInSeconds: z.number().int().min(60).max(21_600).optional(),
  onSuccess: destinationSchema.optional(),
  onFailure: destinationSchema.optional(),
});

const circuitBreakerSchema = z.strictObject({
  errorThresholdPercentage: z.number().min(1).max(100).default(50),
  volumeThreshold: z.number().int().min(0).default(5),
  resetTimeoutMs: z.number().int().positive().default(10_000),
});

/** What a function runs on: one of Lambda's runtimes, or `http` (a POST to `url`). */
export type FunctionRuntime = LambdaRuntime | 'http';

/**
 * `runtime` as written: Lambda's identifiers, `http`, and `nodejs` (what `function.json` named
 * before invoq ran other runtimes). `nodejs`, and no runtime, become the host's Node runtime.
 */
const runtimeSchema = z
  .enum(['nodejs', 'http', ...LAMBDA_RUNTIMES])
  .default('nodejs')
  // The host's Node is one of NODE_RUNTIMES on the Node versions invoq supports (engines: >=20).
  .transform((runtime): FunctionRuntime => (runtime === 'nodejs' ? (nodeRuntimeName() as LambdaRuntime) : runtime));

/** A handler's shape per runtime: Node's `file.export` (a path inside the module after it), Python's `module.function`. */
const HANDLER_PATTERN = /^[^.]+(\.[^.]+)+$/;
const HANDLER_FORMAT = {
  nodejs: 'must be "file.export", e.g. "index.handler"',
  python: 'must be "module.function", e.g. "app.handler" (a module in a package is dotted: "pkg.app.handler")',
} as const;

/**
 * What is wrong with a handler for `runtime`, or undefined: Node and Python need one of their
 * shape; a custom runtime takes any string (or none), `http` none.
 */
export function handlerFormatIssue(runtime: string, handler: string | undefined): string | undefined {
  const family = runtimeFamily(runtime);
  if (family !== 'nodejs' && family !== 'python') return undefined;
  if (!handler) return `is required (e.g. "${family === 'nodejs' ? 'index.handler' : 'app.handler'}")`;
  return HANDLER_PATTERN.test(handler) ? undefined : HANDLER_FORMAT[family];
}

/** `function.json`, as users write it. Unknown fields are errors: a typo should not pass silently. */
export const functionSchema = z
  .strictObject({
    /** Node: `file.export`; Python: `module.function`; a custom runtime: any string, passed to its bootstrap as `_HANDLER`. */
    handler: z.string().optional(),
    runtime: runtimeSchema,
    /** Node only: a worker thread (the default) or a process on Lambda's Runtime API. Python and custom runtimes always run as a process. */
    isolation: z.enum(['thread', 'process']).optional(),
    url: z.url().optional(),
    description: z.string().max(256).optional(),
    timeout: z.number().positive().max(900).default(3),
    memorySize: z.number().int().min(32).max(10_240).default(128),
    reservedConcurrency: z.number().int().min(0).optional(),
    environment: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    async: asyncOptionsSchema.optional(),
    circuitBreaker: z.union([z.literal(false), circuitBreakerSchema]).default(circuitBreakerSchema.parse({})),
    routes: z.array(routeSchema).default([]),
  })
  .superRefine((fn, ctx) => {
    if (fn.runtime === 'http' && !fn.url) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'is required when runtime is "http"' });
    }
    const family = runtimeFamily(fn.runtime);
    const handlerIssue = handlerFormatIssue(fn.runtime, fn.handler);
    if (handlerIssue) ctx.addIssue({ code: 'custom', path: ['handler'], message: handlerIssue });
    if (fn.isolation !== undefined && family === 'http') {
      ctx.addIssue({ code: 'custom', path: ['isolation'], message: 'does not apply to runtime "http": it is a POST to its url, not an execution environment' });
    }
    if (fn.isolation === 'thread' && (family === 'python' || family === 'provided')) {
      ctx.addIssue({
        code: 'custom',
        path: ['isolation'],
        message: `cannot be "thread" with runtime "${fn.runtime}": Python and custom runtimes always run as a process (omit isolation, or use a nodejs runtime)`,
      });
    }
    for (const name of Object.keys(fn.environment)) {
      if (RESERVED_ENVIRONMENT_VARIABLES.has(name)) {
        ctx.addIssue({ code: 'custom', path: ['environment', name], message: `is reserved: Lambda's runtime sets it, and Lambda refuses it in a function's environment (reserved: ${[...RESERVED_ENVIRONMENT_VARIABLES].join(', ')})` });
      }
    }
  })
  // `asyncOptions` keeps whether (and what) the file set: with an `async` key, that block is the
  // function's event-invoke configuration (GetFunctionEventInvokeConfig shows it); without one,
  // the function has none, as in Lambda. `async` is the same block with Lambda's defaults.
  .transform(({ async: asyncOptions, ...fn }) => ({ ...fn, asyncOptions, async: { ...LAMBDA_ASYNC_DEFAULTS, ...asyncOptions } }));

export type FunctionOptions = z.input<typeof functionSchema>;
export type ParsedFunction = z.output<typeof functionSchema>;
export type AsyncPolicy = ParsedFunction['async'];
/** `function.json`'s `async` block as written (validated, not defaulted). */
export type AsyncOptions = z.output<typeof asyncOptionsSchema>;
