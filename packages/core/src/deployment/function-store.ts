import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { InvoqError, coerceError } from '../errors';
import { functionKey } from '../queue/queue-names';
import { closeRedis, type RedisClient } from '../redis/redis-connection';
import { codeInUse, type DeployedFunction } from './deployed-function';

/** What one read-modify-write decides: the next document (`null` deletes the function), and the code it newly names. */
export interface StoreChange {
  next: DeployedFunction | null;
  code?: { sha256: string; zip: Buffer };
}

/** The hash tag of the keys shared by all functions: `@` is not allowed in a function name, so it is nobody's. */
const SHARED = '@functions';
/** How long workers can still tell a deleted function's queued events from unknown ones. */
const TOMBSTONE_TTL_SECONDS = 6 * 60 * 60;
/**
 * Attempts of one update under contention. Each round of concurrent writers lets one through,
 * so this is about how many may write one function at once; the jittered pause spreads them.
 */
const MAX_ATTEMPTS = 50;
const CONFLICT = -1;

/**
 * The compare-and-set of one function's document, with what must change in the same step: code
 * blobs nothing uses any more, and the tombstone. Every key is under the function's hash tag, so
 * it runs on Redis Cluster; the index and the channel are not, so they are written around it.
 * KEYS: document, tombstone, then the code keys to delete. ARGV: expected etag (0: must not
 * exist), next JSON ('' deletes), epoch ms (the tombstone's value), tombstone TTL seconds.
 */
const COMPARE_AND_SET_LUA = `
local raw = redis.call('GET', KEYS[1])
local etag = 0
if raw then etag = tonumber(cjson.decode(raw)['etag']) end
if etag ~= tonumber(ARGV[1]) then return ${CONFLICT} end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[2])
  if etag == 0 then redis.call('DEL', KEYS[2]) end
end
for i = 3, #KEYS do redis.call('DEL', KEYS[i]) end
return 1`;

type StoreRedis = RedisClient & {
  invoqDeploymentCas(numberOfKeys: number, ...keysAndArgs: string[]): Promise<number>;
};

/**
 * Deployed functions in Redis: one JSON document per function (`<prefix>:{name}:deployment`),
 * written only by compare-and-set on its `etag`; its code blobs (`code:<hex sha256>`, one per
 * distinct zip); a tombstone while a deleted function's events drain; the index of names and a
 * channel announcing every change (`{@functions}`); the key that signs code download URLs.
 */
export class FunctionStore {
  private readonly redis: StoreRedis;
  private urlKey: Buffer | undefined;

  constructor(
    redis: RedisClient,
    private readonly prefix: string,
  ) {
    this.redis = redis as StoreRedis;
    if (typeof this.redis.invoqDeploymentCas !== 'function') this.redis.defineCommand('invoqDeploymentCas', { lua: COMPARE_AND_SET_LUA });
  }

  private documentKey(name: string): string {
    return functionKey(this.prefix, name, 'deployment');
  }

  private codeKey(name: string, sha256: string): string {
    return functionKey(this.prefix, name, `code:${Buffer.from(sha256, 'base64').toString('hex')}`);
  }

  private tombstoneKey(name: string): string {
    return functionKey(this.prefix, name, 'deleted');
  }

  private sharedKey(suffix: string): string {
    return functionKey(this.prefix, SHARED, suffix);
  }

  async get(name: string): Promise<DeployedFunction | undefined> {
    const raw = await this.guard(() => this.redis.get(this.documentKey(name)));
    return raw === null ? undefined : (JSON.parse(raw) as DeployedFunction);
  }

  /** The index (deployed names). A name may outlive its document after a crash mid-create: readers skip it. */
  async names(): Promise<string[]> {
    return this.guard(() => this.redis.smembers(this.sharedKey('names')));
  }

  /**
   * Each listed function's document (missing ones left out). One GET per key, all sent at once:
   * a Cluster pipeline must stay on one node, while concurrent single-key commands go wherever
   * their slot lives and are still written without waiting for each other's replies.
   */
  async getMany(names: readonly string[]): Promise<Map<string, DeployedFunction>> {
    const raws = await this.guard(() => Promise.all(names.map((name) => this.redis.get(this.documentKey(name)))));
    const found = new Map<string, DeployedFunction>();
    names.forEach((name, i) => {
      const raw = raws[i];
      if (raw !== null && raw !== undefined) found.set(name, JSON.parse(raw) as DeployedFunction);
    });
    return found;
  }

  /**
   * Read-modify-write with compare-and-set on `etag`, retried on conflict; see StoreChange.
   * `change` may hand back `current` itself to leave the function as it is (nothing written or announced).
   */
  async update(name: string, change: (current: DeployedFunction | undefined) => StoreChange | Promise<StoreChange>): Promise<DeployedFunction | null> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const current = await this.get(name);
      const { next, code } = await change(current);
      // Nothing to write: no function and none wanted, or the change handed back the document as it was.
      if (!current && !next) return null;
      if (current && next === current) return current;
      const written = next && { ...next, name, etag: (current?.etag ?? 0) + 1 };
      if (await this.compareAndSet(name, current, written, code)) return written;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * attempt)));
    }
    throw new InvoqError('SERVICE', `Too many concurrent changes to function ${name}; retry later.`, { retryAfterSeconds: 1 });
  }

  /** One attempt: false when another writer came first. */
  private async compareAndSet(name: string, current: DeployedFunction | undefined, next: DeployedFunction | null, code: StoreChange['code']): Promise<boolean> {
    const unused = current ? [...codeInUse(current)].filter((sha) => !next || !codeInUse(next).has(sha)) : [];
    const keys = [this.documentKey(name), this.tombstoneKey(name), ...unused.map((sha) => this.codeKey(name, sha))];
    const args = [String(current?.etag ?? 0), next ? JSON.stringify(next) : '', String(Date.now()), String(TOMBSTONE_TTL_SECONDS)];
    return this.guard(async () => {
      // In the index before the document exists, so a crash leaves at worst a name without one.
      if (next) await this.redis.sadd(this.sharedKey('names'), name);
      // Content-addressed, so a plain SET; before the document that names it. Redone on every
      // attempt: a concurrent writer's CAS may have deleted it in between as unused.
      if (code) await this.redis.set(this.codeKey(name, code.sha256), code.zip);
      const result = await this.redis.invoqDeploymentCas(keys.length, ...keys, ...args);
      if (Number(result) === CONFLICT) return false;
      if (!next) await this.redis.srem(this.sharedKey('names'), name);
      await this.redis.publish(this.sharedKey('changed'), name);
      return true;
    });
  }

  async getCode(name: string, sha256: string): Promise<Buffer | undefined> {
    return (await this.guard(() => this.redis.getBuffer(this.codeKey(name, sha256)))) ?? undefined;
  }

  /** Epoch ms of the function's deletion while its tombstone lasts. */
  async deletedAt(name: string): Promise<number | undefined> {
    const raw = await this.guard(() => this.redis.get(this.tombstoneKey(name)));
    return raw === null ? undefined : Number(raw);
  }

  /**
   * Calls `onChanged(name)` for every change any process publishes, on a subscriber connection of
   * its own (a subscribed connection runs no other commands). It buffers and resubscribes across
   * reconnects, unlike a fail-fast API connection; what is published while it is away is lost,
   * so followers also re-read on reconnect.
   */
  async subscribe(onChanged: (name: string) => void): Promise<() => Promise<void>> {
    const channel = this.sharedKey('changed');
    const subscriber =
      this.redis instanceof Cluster ? this.redis.duplicate([], { enableOfflineQueue: true }) : this.redis.duplicate({ enableOfflineQueue: true });
    subscriber.on('error', () => undefined);
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) onChanged(message);
    });
    try {
      await subscriber.subscribe(channel);
    } catch (e) {
      subscriber.disconnect();
      throw new InvoqError('SERVICE', 'The function store is unavailable; retry later.', { retryAfterSeconds: 1, cause: coerceError(e) });
    }
    // Closing the connection ends its subscription: no UNSUBSCRIBE first, which a Redis gone away
    // would keep waiting for good (it held up a worker's stop).
    return () => closeRedis(subscriber);
  }

  /** The shared key that signs code download URLs: the first process to ask creates it, every one reads the same. */
  async codeUrlKey(): Promise<Buffer> {
    if (this.urlKey) return this.urlKey;
    const key = this.sharedKey('code-url-key');
    const stored = await this.guard(async () => {
      await this.redis.set(key, randomBytes(32).toString('hex'), 'NX');
      return this.redis.get(key);
    });
    if (stored === null) throw new InvoqError('SERVICE', 'The code URL key vanished from Redis; retry later.', { retryAfterSeconds: 1 });
    this.urlKey = Buffer.from(stored, 'hex');
    return this.urlKey;
  }

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      if (e instanceof InvoqError) throw e;
      throw new InvoqError('SERVICE', 'The function store is unavailable; retry later.', { retryAfterSeconds: 1, cause: coerceError(e) });
    }
  }
}
