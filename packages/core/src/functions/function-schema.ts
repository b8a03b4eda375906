import { z } from 'zod';
import { destinationSchema } from '../destinations/destination-target';
import { RESERVED_ENVIRONMENT_VARIABLES } from '../execution/lambda-environment';

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

/** `function.json`, as users write it. Unknown fields are errors: a typo should not pass silently. */
export const functionSchema = z
  .strictObject({
    handler: z.string().regex(/^[^.]+(\.[^.]+)+$/, 'must be "file.export", e.g. "index.handler"').optional(),
    runtime: z.enum(['nodejs', 'http']).default('nodejs'),
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
    if (fn.runtime === 'nodejs' && !fn.handler) {
      ctx.addIssue({ code: 'custom', path: ['handler'], message: 'is required (e.g. "index.handler")' });
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
