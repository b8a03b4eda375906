import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/redis-connection';
import type { EventQueues } from '../queue/event-queues';

/** Where a bulk redrive is: `running` until every entry of its snapshot was handled. */
export type RedriveState = 'running' | 'finished';

/** A bulk redrive of one function, as `GET /dlq/redrives/{id}` shows it. */
export interface RedriveProgress {
  redriveId: string;
  functionName: string;
  state: RedriveState;
  /** Entries in the snapshot: the function's DLQ when the redrive started. */
  total: number;
  /** Entries handled: moved back to the queue, or skipped. */
  done: number;
  remaining: number;
  /** Of `done`, those no longer in the DLQ when their turn came (deleted or redriven singly). */
  skipped: number;
  createdAt: string;
  finishedAt?: string;
}

/** One entry of a snapshot: the job id and its failed-set score (the failure's `finishedOn`). */
export interface SnapshotEntry {
  id: string;
  score: number;
}

/** `<function>.<32 hex>`: the function is part of the id, so one id finds its keys. */
const REDRIVE_ID = /^([A-Za-z0-9_-]{1,64})\.([0-9a-f]{32})$/;

export function functionOfRedrive(redriveId: string): string | undefined {
  return REDRIVE_ID.exec(redriveId)?.[1];
}

const NOW_LUA = `local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)`;

/**
 * Takes the snapshot: the whole failed set copied in one script, so an entry dead-lettered a
 * moment later is not in it, and one already there cannot be missed. At most one unfinished
 * redrive per function: while one runs, this answers its id and takes nothing.
 * KEYS: failed, active, index, record, entries. ARGV: id, function, retention ms.
 */
const START_LUA = `
local active = redis.call('GET', KEYS[2])
if active then return {0, active} end
local total = redis.call('ZCARD', KEYS[1])
if total == 0 then return {0} end
${NOW_LUA}
redis.call('ZUNIONSTORE', KEYS[5], 1, KEYS[1])
redis.call('HSET', KEYS[4], 'functionName', ARGV[2], 'state', 'running', 'total', total, 'done', 0, 'skipped', 0, 'createdAt', now)
redis.call('SET', KEYS[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[3]))
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return {total, ARGV[1]}`;

/**
 * The progress cursor: an entry leaves the snapshot and is counted in one step, and only by the
 * lease's holder, so two processes can never count one entry twice.
 * KEYS: lease, entries, record. ARGV: token, entry id, outcome.
 */
const ADVANCE_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('ZREM', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('HINCRBY', KEYS[3], 'done', 1)
if ARGV[3] == 'skipped' then redis.call('HINCRBY', KEYS[3], 'skipped', 1) end
return 1`;

/** KEYS: lease, entries, record, active. ARGV: token, id, retention ms. */
const FINISH_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('ZCARD', KEYS[2]) > 0 then return 0 end
${NOW_LUA}
redis.call('HSET', KEYS[3], 'state', 'finished', 'finishedAt', now)
redis.call('PEXPIRE', KEYS[3], ARGV[3])
if redis.call('GET', KEYS[4]) == ARGV[2] then redis.call('DEL', KEYS[4]) end
redis.call('DEL', KEYS[1])
return 1`;

/** KEYS: lease. ARGV: token, ttl ms (renew) or nothing (release). */
const RENEW_LUA = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) else redis.call('DEL', KEYS[1]) end
return 1`;

type RedriveRedis = RedisClient & {
  invoqRedriveStart(
    failed: string,
    active: string,
    index: string,
    record: string,
    entries: string,
    id: string,
    fn: string,
    retentionMs: string,
  ): Promise<[number, string?]>;
  invoqRedriveAdvance(lease: string, entries: string, record: string, token: string, entryId: string, outcome: string): Promise<number>;
  invoqRedriveFinish(lease: string, entries: string, record: string, active: string, token: string, id: string, retentionMs: string): Promise<number>;
  invoqRedriveLease(lease: string, token: string, ttlMs?: string): Promise<number>;
};

/**
 * The state of bulk redrives in Redis, every key under the function's hash tag (one slot, so
 * each script runs on Redis Cluster): `redrive:active` (the unfinished redrive's id),
 * `redrive:lease` (who runs it), `redrive:<id>` (its progress), `redrive:<id>:entries` (what is
 * left of its snapshot) and `redrives` (recent ids). A finished redrive's progress is kept as
 * long as DLQ entries are.
 */
export class RedriveStore {
  private readonly redis: RedriveRedis;
  private readonly retentionMs: string;

  constructor(
    private readonly queues: EventQueues,
    retentionSeconds: number,
  ) {
    this.redis = queues.connection as RedriveRedis;
    this.retentionMs = String(retentionSeconds * 1000);
    const commands: Array<[keyof RedriveRedis & string, number, string]> = [
      ['invoqRedriveStart', 5, START_LUA],
      ['invoqRedriveAdvance', 3, ADVANCE_LUA],
      ['invoqRedriveFinish', 4, FINISH_LUA],
      ['invoqRedriveLease', 1, RENEW_LUA],
    ];
    for (const [name, numberOfKeys, lua] of commands) {
      if (typeof this.redis[name] !== 'function') this.redis.defineCommand(name, { numberOfKeys, lua });
    }
  }

  private key(functionName: string, suffix: string): string {
    return this.queues.keyOf(functionName, suffix);
  }

  private recordKey(functionName: string, redriveId: string): string {
    return this.key(functionName, `redrive:${redriveId.slice(functionName.length + 1)}`);
  }

  /** Snapshots the function's DLQ. `taken` is 0 when it is empty or a redrive already runs. */
  async start(functionName: string): Promise<{ redriveId?: string; taken: number }> {
    const id = `${functionName}.${randomUUID().replaceAll('-', '')}`;
    const [taken, redriveId] = await this.redis.invoqRedriveStart(
      this.queues.keyOf(functionName, 'failed'),
      this.key(functionName, 'redrive:active'),
      this.key(functionName, 'redrives'),
      this.recordKey(functionName, id),
      `${this.recordKey(functionName, id)}:entries`,
      id,
      functionName,
      this.retentionMs,
    );
    return { redriveId, taken: Number(taken) };
  }

  /** The function's unfinished redrive, if any. */
  async activeOf(functionName: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(functionName, 'redrive:active'))) ?? undefined;
  }

  async get(redriveId: string): Promise<RedriveProgress | undefined> {
    const functionName = functionOfRedrive(redriveId);
    if (!functionName) return undefined;
    const h = await this.redis.hgetall(this.recordKey(functionName, redriveId));
    if (!h.state) return undefined;
    const [total, done] = [Number(h.total), Number(h.done)];
    const progress: RedriveProgress = {
      redriveId,
      functionName,
      state: h.state as RedriveState,
      total,
      done,
      remaining: total - done,
      skipped: Number(h.skipped),
      createdAt: new Date(Number(h.createdAt)).toISOString(),
    };
    if (h.finishedAt) progress.finishedAt = new Date(Number(h.finishedAt)).toISOString();
    return progress;
  }

  /** The function's redrives, newest first (at most `limit`). */
  async list(functionName: string, limit: number): Promise<RedriveProgress[]> {
    const ids = await this.redis.zrevrange(this.key(functionName, 'redrives'), 0, limit - 1);
    const found = await Promise.all(ids.map((id) => this.get(id)));
    return found.filter((p): p is RedriveProgress => p !== undefined);
  }

  /** The oldest `count` entries still to do. */
  async nextEntries(redriveId: string, count: number): Promise<SnapshotEntry[]> {
    const functionName = functionOfRedrive(redriveId)!;
    const raw = await this.redis.zrange(`${this.recordKey(functionName, redriveId)}:entries`, 0, count - 1, 'WITHSCORES');
    const entries: SnapshotEntry[] = [];
    for (let i = 0; i < raw.length; i += 2) entries.push({ id: raw[i]!, score: Number(raw[i + 1]) });
    return entries;
  }

  /** Counts one entry done. -1: the lease is no longer `token`'s (stop); 0: it was counted already. */
  async advance(redriveId: string, token: string, entryId: string, outcome: 'moved' | 'skipped'): Promise<number> {
    const functionName = functionOfRedrive(redriveId)!;
    const record = this.recordKey(functionName, redriveId);
    return this.redis.invoqRedriveAdvance(this.key(functionName, 'redrive:lease'), `${record}:entries`, record, token, entryId, outcome);
  }

  /** Marks the redrive finished once its snapshot is empty; releases the lease. */
  async finish(redriveId: string, token: string): Promise<boolean> {
    const functionName = functionOfRedrive(redriveId)!;
    const record = this.recordKey(functionName, redriveId);
    const lease = this.key(functionName, 'redrive:lease');
    return (
      (await this.redis.invoqRedriveFinish(
        lease,
        `${record}:entries`,
        record,
        this.key(functionName, 'redrive:active'),
        token,
        redriveId,
        this.retentionMs,
      )) === 1
    );
  }

  /** Takes the function's lease unless a live holder has it. */
  async claim(functionName: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.key(functionName, 'redrive:lease'), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  /** Pushes the lease's expiry on; false when it lapsed and is someone else's (or nobody's). */
  async renew(functionName: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.invoqRedriveLease(this.key(functionName, 'redrive:lease'), token, String(ttlMs))) === 1;
  }

  async release(functionName: string, token: string): Promise<void> {
    await this.redis.invoqRedriveLease(this.key(functionName, 'redrive:lease'), token);
  }

  /** Events of the function waiting to be taken by a worker (not delayed retries). */
  async waitingCount(functionName: string): Promise<number> {
    const results =
      (await this.redis.pipeline().llen(this.queues.keyOf(functionName, 'wait')).zcard(this.queues.keyOf(functionName, 'prioritized')).exec()) ?? [];
    return results.reduce((sum, [error, value]) => {
      if (error) throw error;
      return sum + Number(value);
    }, 0);
  }
}
