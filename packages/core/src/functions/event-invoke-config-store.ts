import type { RedisClient } from '../queue/redis-connection';
import { z } from 'zod';
import { InvoqError, coerceError } from '../errors';
import type { RetryPolicy } from '../policy/retry-policy';
import { destinationSchema } from '../destinations/destination-target';
import { functionKey } from '../queue/queue-names';
import type { ResolvedFunction } from './resolved-function';

const destinationConfigSchema = z.strictObject({ Destination: destinationSchema.optional() });

/** PutFunctionEventInvokeConfig's body, validated as Lambda's model bounds it. */
export const eventInvokeConfigInputSchema = z.strictObject({
  MaximumRetryAttempts: z.number().int().min(0).max(2).optional(),
  MaximumEventAgeInSeconds: z.number().int().min(60).max(21_600).optional(),
  DestinationConfig: z.strictObject({ OnSuccess: destinationConfigSchema.optional(), OnFailure: destinationConfigSchema.optional() }).optional(),
});

export type EventInvokeConfigInput = z.infer<typeof eventInvokeConfigInputSchema>;

/** What is stored in Redis and answered (plus `FunctionArn`). */
export interface StoredEventInvokeConfig extends EventInvokeConfigInput {
  /** Epoch seconds, fractional, as Lambda answers it. */
  LastModified: number;
}

/**
 * Per-function async settings changed at run time (Lambda's event-invoke-config API), kept in
 * Redis under the function's hash tag so every worker sees them, and overriding
 * `function.json`. Workers read them at every attempt through a cache of `cacheMs`.
 */
export class EventInvokeConfigStore {
  private readonly cache = new Map<string, { at: number; value: StoredEventInvokeConfig | undefined }>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly cacheMs = 1000,
  ) {}

  private key(functionName: string): string {
    return functionKey(this.prefix, functionName, 'event-invoke-config');
  }

  async get(functionName: string): Promise<StoredEventInvokeConfig | undefined> {
    const raw = await this.guard(() => this.redis.get(this.key(functionName)));
    return raw === null ? undefined : (JSON.parse(raw) as StoredEventInvokeConfig);
  }

  /** Replaces the whole config (fields left out are removed), as PutFunctionEventInvokeConfig does. */
  async put(functionName: string, input: EventInvokeConfigInput): Promise<StoredEventInvokeConfig> {
    const stored: StoredEventInvokeConfig = { ...input, LastModified: Date.now() / 1000 };
    await this.guard(() => this.redis.set(this.key(functionName), JSON.stringify(stored)));
    this.cache.delete(functionName);
    return stored;
  }

  /** Merges into the existing config, as UpdateFunctionEventInvokeConfig does. */
  async update(functionName: string, input: EventInvokeConfigInput): Promise<StoredEventInvokeConfig> {
    const existing = await this.get(functionName);
    return this.put(functionName, { ...existing, ...input, LastModified: undefined } as EventInvokeConfigInput);
  }

  async delete(functionName: string): Promise<boolean> {
    const removed = await this.guard(() => this.redis.del(this.key(functionName)));
    this.cache.delete(functionName);
    return removed > 0;
  }

  private async cached(fn: ResolvedFunction): Promise<StoredEventInvokeConfig | undefined> {
    let entry = this.cache.get(fn.name);
    if (!entry || Date.now() - entry.at > this.cacheMs) {
      entry = { at: Date.now(), value: await this.get(fn.name) };
      this.cache.set(fn.name, entry);
    }
    return entry.value;
  }

  /** Destinations in force for `fn` now: run-time `DestinationConfig` over `function.json`. */
  async destinationsOf(fn: ResolvedFunction): Promise<{ onSuccess?: string; onFailure?: string }> {
    const stored = (await this.cached(fn))?.DestinationConfig;
    const pick = (runtime: string | undefined, fromFile: string | undefined) => (runtime !== undefined && destinationSchema.safeParse(runtime).success ? runtime : fromFile);
    return {
      onSuccess: pick(stored?.OnSuccess?.Destination, fn.config.async.onSuccess),
      onFailure: pick(stored?.OnFailure?.Destination, fn.config.async.onFailure),
    };
  }

  /** The retry policy in force for `fn` now: its run-time config over `function.json`. */
  async policyOf(fn: ResolvedFunction): Promise<RetryPolicy> {
    const stored = await this.cached(fn);
    return {
      maximumRetryAttempts: stored?.MaximumRetryAttempts ?? fn.config.async.maximumRetryAttempts,
      maximumEventAgeInSeconds: stored?.MaximumEventAgeInSeconds ?? fn.config.async.maximumEventAgeInSeconds,
    };
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw new InvoqError('SERVICE', 'The configuration store is unavailable; retry later.', { retryAfterSeconds: 1, cause: coerceError(e) });
    }
  }
}
