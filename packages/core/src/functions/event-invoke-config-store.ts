import type { RedisClient } from '../redis/redis-connection';
import { InvoqError, coerceError } from '../errors';
import type { RetryPolicy } from '../policy/retry-policy';
import { functionKey } from '../queue/queue-names';
import {
  destinationsOfConfig,
  effectiveEventInvokeConfig,
  fromAsyncOptions,
  mergeEventInvokeConfig,
  replaceEventInvokeConfig,
  retryPolicyOf,
  type EffectiveEventInvokeConfig,
  type EventInvokeConfigInput,
  type StoredEventInvokeConfig,
} from './event-invoke-config';
import { definitionModifiedAt } from './function-configuration';
import type { ResolvedFunction } from './resolved-function';

export interface EventInvokeConfigStoreOptions {
  /** How long a worker keeps a function's configuration before reading it again (default 1000). */
  cacheMs?: number;
  /** Epoch ms; injectable for tests. */
  now?: () => number;
}

/**
 * A function's asynchronous-invocation configuration (Lambda's event-invoke-config API), with
 * AWS's meaning: PutFunctionEventInvokeConfig replaces the whole configuration (what it omits is
 * Lambda's default, destinations included), Update merges into the configuration in force,
 * Delete returns to `function.json`'s `async` block. What is Put or Updated is kept in Redis under
 * the function's hash tag, so every worker sees it; workers read it at every attempt through a
 * cache of `cacheMs`.
 */
export class EventInvokeConfigStore {
  private readonly cache = new Map<string, { at: number; value: StoredEventInvokeConfig | undefined }>();
  private readonly fileConfigs = new WeakMap<ResolvedFunction, StoredEventInvokeConfig | undefined>();
  private readonly cacheMs: number;
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    options: EventInvokeConfigStoreOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  private key(functionName: string): string {
    return functionKey(this.prefix, functionName, 'event-invoke-config');
  }

  /** The configuration Put or Updated at run time, if any (not `function.json`'s). */
  async get(functionName: string): Promise<StoredEventInvokeConfig | undefined> {
    const raw = await this.guard(() => this.redis.get(this.key(functionName)));
    return raw === null ? undefined : (JSON.parse(raw) as StoredEventInvokeConfig);
  }

  /** The configuration in force for `fn` now (what Get answers), or undefined when it has none. */
  async effective(fn: ResolvedFunction): Promise<EffectiveEventInvokeConfig | undefined> {
    return effectiveEventInvokeConfig(await this.get(fn.name), this.fileConfig(fn));
  }

  /** PutFunctionEventInvokeConfig: `input` becomes the whole configuration. */
  async put(fn: ResolvedFunction, input: EventInvokeConfigInput): Promise<StoredEventInvokeConfig> {
    return this.store(fn.name, replaceEventInvokeConfig(input, this.now() / 1000));
  }

  /**
   * UpdateFunctionEventInvokeConfig: merges `input` into the configuration in force (the one
   * Put before, else `function.json`'s). Undefined when there is none to merge into.
   */
  async update(fn: ResolvedFunction, input: EventInvokeConfigInput): Promise<StoredEventInvokeConfig | undefined> {
    const current = await this.effective(fn);
    if (!current) return undefined;
    return this.store(fn.name, mergeEventInvokeConfig(withoutLastModified(current.config), input, this.now() / 1000));
  }

  /** DeleteFunctionEventInvokeConfig: `function.json`'s configuration runs again. */
  async delete(functionName: string): Promise<boolean> {
    const removed = await this.guard(() => this.redis.del(this.key(functionName)));
    this.cache.delete(functionName);
    return removed > 0;
  }

  /** The retry policy in force for `fn` now (read at every attempt; Lambda's defaults fill in). */
  async policyOf(fn: ResolvedFunction): Promise<RetryPolicy> {
    return retryPolicyOf(await this.cachedConfig(fn));
  }

  /**
   * The retry policy of a function this process does not load: only what Redis keeps (its
   * `function.json` is not here to read), else Lambda's defaults. Read through the same cache.
   */
  async storedPolicyOf(functionName: string): Promise<RetryPolicy> {
    let entry = this.cache.get(functionName);
    if (!entry || this.now() - entry.at > this.cacheMs) {
      entry = { at: this.now(), value: await this.get(functionName) };
      this.cache.set(functionName, entry);
    }
    return retryPolicyOf(entry.value);
  }

  /** The destinations in force for `fn` now: only those its configuration names. */
  async destinationsOf(fn: ResolvedFunction): Promise<{ onSuccess?: string; onFailure?: string }> {
    return destinationsOfConfig(await this.cachedConfig(fn));
  }

  private async store(functionName: string, config: StoredEventInvokeConfig): Promise<StoredEventInvokeConfig> {
    await this.guard(() => this.redis.set(this.key(functionName), JSON.stringify(config)));
    this.cache.delete(functionName);
    return config;
  }

  private async cachedConfig(fn: ResolvedFunction): Promise<EventInvokeConfigInput | undefined> {
    let entry = this.cache.get(fn.name);
    if (!entry || this.now() - entry.at > this.cacheMs) {
      entry = { at: this.now(), value: await this.get(fn.name) };
      this.cache.set(fn.name, entry);
    }
    return effectiveEventInvokeConfig(entry.value, this.fileConfig(fn))?.config;
  }

  /** `function.json`'s `async` block in Lambda's shape, dated by the file's change time. */
  private fileConfig(fn: ResolvedFunction): StoredEventInvokeConfig | undefined {
    if (!this.fileConfigs.has(fn)) {
      const options = fn.config.asyncOptions;
      this.fileConfigs.set(fn, options && fromAsyncOptions(options, fileModifiedSeconds(fn) ?? this.now() / 1000));
    }
    return this.fileConfigs.get(fn);
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw new InvoqError('SERVICE', 'The configuration store is unavailable; retry later.', { retryAfterSeconds: 1, cause: coerceError(e) });
    }
  }
}

function withoutLastModified({ LastModified: _, ...config }: StoredEventInvokeConfig): EventInvokeConfigInput {
  return config;
}

function fileModifiedSeconds(fn: ResolvedFunction): number | undefined {
  try {
    return definitionModifiedAt(fn).getTime() / 1000;
  } catch {
    return undefined;
  }
}
