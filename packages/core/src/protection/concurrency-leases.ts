import { randomUUID } from 'node:crypto';
import { withinDeadline, type RedisClient } from '../redis/redis-connection';
import { InvoqError, coerceError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import { functionKey } from '../queue/queue-names';

/**
 * Takes a lease if fewer than ARGV[1] unexpired ones exist. Leases are members of a sorted set
 * scored by their expiry, under the function's hash tag; expired ones (a crashed process's) are
 * dropped first. Time is Redis's own, so hosts with skewed clocks agree.
 */
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

/** Pushes a held lease's expiry on; a lease that already lapsed is not brought back. */
const RENEW_LUA = `
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1`;

/**
 * A lease lapses this long after it was taken or last renewed. Held leases are renewed every
 * LEASE_RENEW_MS while their run lasts, however long (cold start, a wait for an environment,
 * the function's timeout); a crashed process's leases lapse within LEASE_TTL_MS.
 */
const LEASE_TTL_MS = 10_000;
const LEASE_RENEW_MS = 2_500;

type LeaseRedis = RedisClient & {
  invoqAcquireLease(key: string, limit: string, id: string, ttl: string): Promise<number>;
  invoqRenewLease(key: string, id: string, ttl: string): Promise<number>;
};

/**
 * `reservedConcurrency` across every API and worker process: at most N runs of a function at
 * once, counted in Redis. Functions without a limit never touch Redis here.
 */
export class ConcurrencyLeases {
  private readonly redis: LeaseRedis;
  /** Lease id → its key, for every lease this process holds. */
  private readonly held = new Map<string, string>();
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly ttlMs: number;
  private readonly renewEveryMs: number;
  /** Taking a lease fails with ServiceException after this long (the API's bound); none: it waits. */
  private readonly deadlineMs: number | undefined;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
    timing: { ttlMs?: number; renewEveryMs?: number; deadlineMs?: number } = {},
  ) {
    this.ttlMs = timing.ttlMs ?? LEASE_TTL_MS;
    this.renewEveryMs = timing.renewEveryMs ?? LEASE_RENEW_MS;
    this.deadlineMs = timing.deadlineMs;
    this.redis = redis as LeaseRedis;
    if (typeof this.redis.invoqAcquireLease !== 'function') this.redis.defineCommand('invoqAcquireLease', { numberOfKeys: 1, lua: ACQUIRE_LUA });
    if (typeof this.redis.invoqRenewLease !== 'function') this.redis.defineCommand('invoqRenewLease', { numberOfKeys: 1, lua: RENEW_LUA });
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
    let taken: number;
    try {
      const acquiring = this.redis.invoqAcquireLease(key, String(limit), id, String(this.ttlMs));
      taken = await (this.deadlineMs === undefined ? acquiring : withinDeadline(acquiring, this.deadlineMs, 'the lease'));
    } catch (e) {
      // A command that timed out may still run once Redis answers again (it was sent): take
      // the lease back then, or it would hold a slot for a whole TTL. Sent after it, so after it.
      void this.redis.zrem(key, id).catch(() => undefined);
      throw new InvoqError('SERVICE', `The reserved concurrency of ${fn.name} cannot be checked: Redis is unavailable; retry later.`, {
        retryAfterSeconds: 1,
        cause: coerceError(e),
      });
    }
    if (taken !== 1) return undefined;
    this.hold(id, key);
    return async () => {
      this.held.delete(id);
      if (this.held.size === 0) this.stopRenewing();
      await this.redis.zrem(key, id).catch(() => undefined); // lapses by itself otherwise
    };
  }

  /** Leases this process holds now. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Stops renewing (leases still held lapse within the TTL, as a crashed process's do). */
  close(): void {
    this.held.clear();
    this.stopRenewing();
  }

  private hold(id: string, key: string): void {
    this.held.set(id, key);
    if (this.renewTimer) return;
    this.renewTimer = setInterval(() => {
      // A failed renewal (Redis away) is tried again next time; past the TTL the lease lapses.
      for (const [leaseId, leaseKey] of this.held) void this.redis.invoqRenewLease(leaseKey, leaseId, String(this.ttlMs)).catch(() => undefined);
    }, this.renewEveryMs);
    this.renewTimer.unref();
  }

  private stopRenewing(): void {
    clearInterval(this.renewTimer);
    this.renewTimer = undefined;
  }
}

/** Lambda's answer to a call over a function's reserved concurrency. */
export function reservedConcurrencyExceeded(): InvoqError {
  return new InvoqError('THROTTLED', 'Rate Exceeded.', { reason: 'ReservedFunctionConcurrentInvocationLimitExceeded', retryAfterSeconds: 1 });
}
