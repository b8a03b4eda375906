import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { functionKey } from '../queue/queue-names';
import type { RedisClient } from '../redis/redis-connection';

/** How often a worker says again which functions it loads. */
export const LOADER_HEARTBEAT_MS = 5_000;

export interface FunctionLoadersOptions {
  /** How often `announce` repeats (default LOADER_HEARTBEAT_MS). */
  heartbeatMs?: number;
  /** How long an announcement holds without a repeat (default 3 heartbeats). */
  ttlMs?: number;
}

/**
 * Which functions a live worker loads, in Redis, so that an API (or a worker with another
 * function list) can tell an event that will run from one that never will. Each function has a
 * sorted set `<prefix>:{fn}:loaded-by` of worker ids scored by when their word expires: a worker
 * repeats it every heartbeat and withdraws it when it stops; a killed worker's lapses by itself.
 * The key carries the function's hash tag and expires with its last member.
 */
export class FunctionLoaders {
  /** This process, as the loaders' sets name it. */
  readonly id = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly heartbeatMs: number;
  readonly ttlMs: number;
  private timer: NodeJS.Timeout | undefined;
  private announced: readonly string[] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    options: FunctionLoadersOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? LOADER_HEARTBEAT_MS;
    this.ttlMs = options.ttlMs ?? 3 * this.heartbeatMs;
  }

  private key(functionName: string): string {
    return functionKey(this.prefix, functionName, 'loaded-by');
  }

  /**
   * Says now, and then every heartbeat until `withdraw`, that this worker loads `functionNames()`
   * (read at each heartbeat, so the list may change at run time; a function dropped from it is
   * withdrawn at the next one).
   */
  announce(functionNames: () => readonly string[]): Promise<void> {
    clearInterval(this.timer);
    const beat = () => this.beat(functionNames()).catch(() => undefined);
    this.timer = setInterval(beat, this.heartbeatMs);
    this.timer.unref();
    return beat();
  }

  private async beat(names: readonly string[]): Promise<void> {
    const dropped = this.announced.filter((name) => !names.includes(name));
    this.announced = [...names];
    const now = Date.now();
    // One pipeline per function: its keys share one slot, as a Cluster pipeline must.
    await Promise.all([
      ...names.map((name) =>
        this.redis
          .pipeline()
          .zadd(this.key(name), now + this.ttlMs, this.id)
          .zremrangebyscore(this.key(name), '-inf', now)
          .pexpire(this.key(name), this.ttlMs)
          .exec(),
      ),
      ...dropped.map((name) => this.redis.zrem(this.key(name), this.id)),
    ]);
  }

  /** Stops announcing and withdraws this worker's word, so readers know at once. */
  async withdraw(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const names = this.announced;
    this.announced = [];
    await Promise.all(names.map((name) => this.redis.zrem(this.key(name), this.id))).catch(() => undefined);
  }

  /** True when some live worker (this one included) loads `functionName`. */
  async isLoaded(functionName: string): Promise<boolean> {
    return (await this.redis.zcount(this.key(functionName), Date.now(), '+inf')) > 0;
  }
}
