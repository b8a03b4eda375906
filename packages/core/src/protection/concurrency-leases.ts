import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../queue/redis-connection';
import { InvoqError, coerceError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import { functionKey } from '../queue/queue-names';

/**
 * Takes a lease if fewer than ARGV[1] unexpired ones exist. Leases are members of a sorted set
 * scored by their expiry, under the function's hash tag; expired ones (a crashed process's) are
 * dropped first, so no process can leak a slot for longer than one run's timeout.
 */
const ACQUIRE_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1`;

/** A lease outlives the run it covers by this much: runs are killed at their timeout. */
const LEASE_MARGIN_MS = 5_000;

type LeaseRedis = RedisClient & { invoqAcquireLease(key: string, limit: string, now: string, expiry: string, id: string, ttl: string): Promise<number> };

/**
 * `reservedConcurrency` across every API and worker process: at most N runs of a function at
 * once, counted in Redis. Functions without a limit never touch Redis here.
 */
export class ConcurrencyLeases {
  private readonly redis: LeaseRedis;

  constructor(redis: RedisClient, private readonly prefix: string) {
    this.redis = redis as LeaseRedis;
    if (typeof this.redis.invoqAcquireLease !== 'function') this.redis.defineCommand('invoqAcquireLease', { numberOfKeys: 1, lua: ACQUIRE_LUA });
  }

  /**
   * Returns a release function, or undefined when the function is at its limit. Throws
   * `ServiceException` when the limit cannot be checked (Redis away).
   */
  async tryAcquire(fn: ResolvedFunction): Promise<(() => Promise<void>) | undefined> {
    const limit = fn.config.reservedConcurrency;
    if (limit === undefined) return async () => undefined;
    const key = functionKey(this.prefix, fn.name, 'leases');
    const id = randomUUID();
    const now = Date.now();
    const ttl = fn.timeoutMs + LEASE_MARGIN_MS;
    let taken: number;
    try {
      taken = await this.redis.invoqAcquireLease(key, String(limit), String(now), String(now + ttl), id, String(ttl));
    } catch (e) {
      throw new InvoqError('SERVICE', `The reserved concurrency of ${fn.name} cannot be checked: Redis is unavailable; retry later.`, { retryAfterSeconds: 1, cause: coerceError(e) });
    }
    if (taken !== 1) return undefined;
    return async () => {
      await this.redis.zrem(key, id).catch(() => undefined); // expires by itself otherwise
    };
  }
}

/** Lambda's answer to a call over a function's reserved concurrency. */
export function reservedConcurrencyExceeded(): InvoqError {
  return new InvoqError('THROTTLED', 'Rate Exceeded.', { reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', retryAfterSeconds: 1 });
}
