import { z } from 'zod';
import { destinationSchema } from '../destinations/destination-target';
import type { RetryPolicy } from '../policy/retry-policy';
import { LAMBDA_ASYNC_DEFAULTS, type AsyncOptions } from './function-schema';

const destinationSideSchema = z.strictObject({ Destination: destinationSchema.optional() });

/** Put/UpdateFunctionEventInvokeConfig's body, validated as Lambda's model bounds it. */
export const eventInvokeConfigInputSchema = z.strictObject({
  MaximumRetryAttempts: z.number().int().min(0).max(2).optional(),
  MaximumEventAgeInSeconds: z.number().int().min(60).max(21_600).optional(),
  DestinationConfig: z.strictObject({ OnSuccess: destinationSideSchema.optional(), OnFailure: destinationSideSchema.optional() }).optional(),
});

/** An event-invoke configuration in Lambda's terms: only the settings it sets. */
export type EventInvokeConfigInput = z.infer<typeof eventInvokeConfigInputSchema>;

/** A configuration as stored in Redis and answered (plus `FunctionArn`). */
export interface StoredEventInvokeConfig extends EventInvokeConfigInput {
  /** Epoch seconds, fractional, as Lambda answers it. */
  LastModified: number;
}

/** Where the configuration in force comes from. */
export type EventInvokeConfigSource = 'event-invoke-config' | 'function.json';

/** The configuration that runs a function's events now, and where it comes from. */
export interface EffectiveEventInvokeConfig {
  source: EventInvokeConfigSource;
  config: StoredEventInvokeConfig;
}

/** Lambda refuses a Put or Update that sets nothing (AWS's recorded message). */
export const NOTHING_TO_SET_MESSAGE = 'You must specify at least one of error handling or destination setting.';

export function setsNothing(input: EventInvokeConfigInput): boolean {
  return input.MaximumRetryAttempts === undefined && input.MaximumEventAgeInSeconds === undefined && input.DestinationConfig === undefined;
}

/** `function.json`'s `async` block, said as Lambda says it: the settings it writes, no more. */
export function fromAsyncOptions(options: AsyncOptions, lastModified: number): StoredEventInvokeConfig {
  const sides = {
    ...(options.onSuccess === undefined ? {} : { OnSuccess: { Destination: options.onSuccess } }),
    ...(options.onFailure === undefined ? {} : { OnFailure: { Destination: options.onFailure } }),
  };
  return {
    LastModified: lastModified,
    ...(options.maximumRetryAttempts === undefined ? {} : { MaximumRetryAttempts: options.maximumRetryAttempts }),
    ...(options.maximumEventAgeInSeconds === undefined ? {} : { MaximumEventAgeInSeconds: options.maximumEventAgeInSeconds }),
    ...(Object.keys(sides).length === 0 ? {} : { DestinationConfig: sides }),
  };
}

/**
 * The configuration in force: the one set at run time (Put/Update) when there is one, else
 * `function.json`'s `async` block when the file has one, else none (Lambda's defaults run).
 */
export function effectiveEventInvokeConfig(
  stored: StoredEventInvokeConfig | undefined,
  fromFile: StoredEventInvokeConfig | undefined,
): EffectiveEventInvokeConfig | undefined {
  if (stored) return { source: 'event-invoke-config', config: stored };
  return fromFile && { source: 'function.json', config: fromFile };
}

/** PutFunctionEventInvokeConfig: the whole configuration is `input`; what it omits is unset. */
export function replaceEventInvokeConfig(input: EventInvokeConfigInput, lastModified: number): StoredEventInvokeConfig {
  return { ...withoutUndefined(input), LastModified: lastModified };
}

/**
 * UpdateFunctionEventInvokeConfig: each setting `input` names replaces that setting of `base`;
 * the others stay. Destinations merge side by side: `OnSuccess` or `OnFailure` named in `input`
 * replaces that side (`{}` clears it), a side not named stays.
 */
export function mergeEventInvokeConfig(base: EventInvokeConfigInput, input: EventInvokeConfigInput, lastModified: number): StoredEventInvokeConfig {
  const merged: EventInvokeConfigInput = { ...withoutUndefined(base), ...withoutUndefined(input) };
  if (input.DestinationConfig !== undefined) {
    merged.DestinationConfig = { ...withoutUndefined(base.DestinationConfig ?? {}), ...withoutUndefined(input.DestinationConfig) };
  }
  return { ...merged, LastModified: lastModified };
}

/** The retry policy a configuration runs with: what it leaves out is Lambda's default. */
export function retryPolicyOf(config: EventInvokeConfigInput | undefined): RetryPolicy {
  return {
    maximumRetryAttempts: config?.MaximumRetryAttempts ?? LAMBDA_ASYNC_DEFAULTS.maximumRetryAttempts,
    maximumEventAgeInSeconds: config?.MaximumEventAgeInSeconds ?? LAMBDA_ASYNC_DEFAULTS.maximumEventAgeInSeconds,
  };
}

/** The destinations a configuration sends records to: only those it names (none by default). */
export function destinationsOfConfig(config: EventInvokeConfigInput | undefined): { onSuccess?: string; onFailure?: string } {
  const onSuccess = config?.DestinationConfig?.OnSuccess?.Destination;
  const onFailure = config?.DestinationConfig?.OnFailure?.Destination;
  return { ...(onSuccess === undefined ? {} : { onSuccess }), ...(onFailure === undefined ? {} : { onFailure }) };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
