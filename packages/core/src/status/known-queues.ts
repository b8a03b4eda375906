import type { FunctionLoaders } from './function-loaders';
import { functionKey } from '../queue/queue-names';
import { readQueuedCount } from '../queue/queued-count';
import { discoverFunctionQueues } from './queue-discovery';
import type { RedisClient } from '../redis/redis-connection';

/** What one function's queue holds, and who loads the function, at the last refresh. */
export interface FunctionQueueState {
  functionName: string;
  /** Events waiting to run: waiting, delayed (retries), prioritized. */
  queued: number;
  /** Everything its keys hold: queued, running, dead-lettered, finished (status). */
  held: number;
  /** This process loads the function. */
  loadedHere: boolean;
  /** Some live worker (this one, if it is a worker) loads it, so its events run. */
  loadedByWorker: boolean;
}

/**
 * Something an operator should hear about, once, until it stops being true:
 * `not-loaded-here`: events wait for a function this process does not load;
 * `no-worker`: events wait for a function this process loads but no live worker does.
 */
export type KnownQueueNotice = { kind: 'not-loaded-here' | 'no-worker'; state: FunctionQueueState };

export interface KnownQueuesOptions {
  redis: RedisClient;
  prefix: string;
  /** The functions this process loads now: read at every refresh, so the list may change. */
  loaded: () => readonly string[];
  loaders: FunctionLoaders;
  /** How often Redis is scanned for queues (default 60 s, INVOQ_QUEUE_DISCOVERY_SECONDS; a SCAN reads the whole keyspace). */
  discoverEveryMs?: number;
  /** How often the known queues are counted and notices decided (default 10 s). */
  countEveryMs?: number;
  /**
   * No `no-worker` notice this soon after start (default: the loaders' TTL): workers started
   * beside this process may not have said yet what they load.
   */
  noWorkerGraceMs?: number;
  onNotice?: (notice: KnownQueueNotice) => void;
  /** Called after every refresh (the worker sweeps old events of unloaded functions then). */
  onRefreshed?: (states: readonly FunctionQueueState[]) => Promise<void> | void;
}

/**
 * The set of function queues this deployment knows: those of the functions this process loads,
 * and every other queue in Redis that holds something (found by `discoverFunctionQueues`), so an
 * event of a function no longer loaded stays visible: its status, the queue gauges, the DLQ. A
 * queue that no longer holds anything drops out, so metric labels stay bounded by the queues
 * that exist. Refreshed at start and then in the background; `refresh()` may be called any time
 * (e.g. when the loaded list changes).
 */
export class KnownQueues {
  private discovered: readonly string[] = [];
  private discoveredAt = -Infinity;
  private readonly states = new Map<string, FunctionQueueState>();
  private readonly reported = new Set<string>();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly discoverEveryMs: number;
  private readonly noWorkerGraceMs: number;

  constructor(private readonly options: KnownQueuesOptions) {
    this.discoverEveryMs = options.discoverEveryMs ?? 60_000;
    this.noWorkerGraceMs = options.noWorkerGraceMs ?? options.loaders.ttlMs;
  }

  /** Every function whose queue is known: loaded here, or not loaded but holding something. */
  names(): string[] {
    const names = new Set(this.options.loaded());
    for (const state of this.states.values()) if (state.held > 0) names.add(state.functionName);
    return [...names];
  }

  has(functionName: string): boolean {
    return this.options.loaded().includes(functionName) || (this.states.get(functionName)?.held ?? 0) > 0;
  }

  /** Whether a live worker loaded the function at the last refresh (undefined: not counted yet). */
  loadedByWorker(functionName: string): boolean | undefined {
    return this.states.get(functionName)?.loadedByWorker;
  }

  /** Refreshes now, then every `countEveryMs` until `close`. Resolves after the first refresh. */
  start(): Promise<void> {
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), this.options.countEveryMs ?? 10_000);
    this.timer.unref();
    return this.refresh();
  }

  /** Stops refreshing; resolves once a refresh in flight has ended (it fails if Redis went away). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.refreshing?.catch(() => undefined);
  }

  /**
   * Counts this function's queue from now on, loaded here or not (a deployed function just
   * deleted: its events' status and DLQ entries must stay readable before the next scan finds it).
   * Resolves once a count that includes it has been made.
   */
  async remember(functionName: string): Promise<void> {
    if (!this.discovered.includes(functionName)) this.discovered = [...this.discovered, functionName];
    await this.refreshing?.catch(() => undefined);
    await this.refresh();
  }

  /** Scans (when due) and counts the known queues; one at a time. Rejects when Redis fails. */
  refresh(): Promise<void> {
    this.refreshing ??= this.read().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async read(): Promise<void> {
    const { redis, prefix } = this.options;
    if (Date.now() - this.discoveredAt >= this.discoverEveryMs) {
      this.discovered = await discoverFunctionQueues(redis, prefix);
      this.discoveredAt = Date.now();
    }
    const loaded = new Set(this.options.loaded());
    const names = [...new Set([...loaded, ...this.discovered, ...this.states.keys()])];
    const states = await Promise.all(names.map((name) => this.count(name, loaded.has(name))));
    this.states.clear();
    for (const state of states) if (state.loadedHere || state.held > 0) this.states.set(state.functionName, state);
    for (const state of states) this.decideNotices(state);
    await this.options.onRefreshed?.([...this.states.values()]);
  }

  private async count(functionName: string, loadedHere: boolean): Promise<FunctionQueueState> {
    const key = (suffix: string) => functionKey(this.options.prefix, functionName, suffix);
    // One pipeline per function: its keys share a slot, as a Cluster pipeline must.
    const replies =
      (await readQueuedCount(this.options.redis.pipeline(), key)
        .llen(key('active'))
        .zcard(key('failed'))
        .zcard(key('completed'))
        .zcount(key('loaded-by'), Date.now(), '+inf')
        .exec()) ?? [];
    const n = replies.map(([error, value]) => {
      if (error) throw error;
      return Number(value);
    });
    const queued = n[0]! + n[1]! + n[2]!;
    return { functionName, queued, held: queued + n[3]! + n[4]! + n[5]!, loadedHere, loadedByWorker: n[6]! > 0 };
  }

  private decideNotices(state: FunctionQueueState): void {
    const graceOver = Date.now() - this.startedAt >= this.noWorkerGraceMs;
    this.notice('not-loaded-here', state, state.queued > 0 && !state.loadedHere);
    if (graceOver || !(state.queued > 0 && state.loadedHere && !state.loadedByWorker)) {
      this.notice('no-worker', state, state.queued > 0 && state.loadedHere && !state.loadedByWorker);
    }
  }

  /** Reports `kind` once while `holds`; once it stops holding, the next time is reported again. */
  private notice(kind: KnownQueueNotice['kind'], state: FunctionQueueState, holds: boolean): void {
    const id = `${kind}:${state.functionName}`;
    if (!holds) {
      this.reported.delete(id);
      return;
    }
    if (this.reported.has(id)) return;
    this.reported.add(id);
    this.options.onNotice?.({ kind, state });
  }
}
