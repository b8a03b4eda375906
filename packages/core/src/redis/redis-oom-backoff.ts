import type { Worker } from 'bullmq';
import type { Logger } from '../logging/logger';

/** Redis's answer to a write once `maxmemory` is reached under `noeviction` (also from a script). */
export function isRedisOomError(error: unknown): boolean {
  return error instanceof Error && /\bOOM command not allowed\b/.test(error.message);
}

/** BullMQ's local rate-limit deadline: private in its types; bullmq is pinned to an exact version. */
interface WorkerInternals {
  limitUntil: number;
}

export interface RedisOomBackoffOptions {
  logger: Logger;
  /** Called once per refused command: the metric. */
  onOomError?: () => void;
  /** The first hold after an OOM error, in ms (default 500); it doubles with each error. */
  baseDelayMs?: number;
  /** The longest hold, in ms (default 5000): how soon work resumes once memory is free. */
  maxDelayMs?: number;
  /** How often a summary line is logged while OOM errors go on (default 10000 ms). */
  logIntervalMs?: number;
}

/**
 * What a worker does while Redis refuses writes because it is full. BullMQ's main loop waits
 * `runRetryDelay` only after a *connection* error: any other error a fetch (`moveToActive`) gets
 * is emitted as `'error'` and the loop fetches again at once, so a full Redis made the worker spin
 * at a full core, logging every refusal (~2 MB/s) while running nothing. Here each OOM error
 * holds that worker's fetching for a while (500 ms doubling to 5 s) through BullMQ's own local
 * rate-limit wait, which `close()` cuts short; it is counted, logged once per interval with the
 * count, and the process reports not ready until Redis takes a write again (an event moves) or
 * no OOM error has come for two holds' worth.
 */
export class RedisOomBackoff {
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly logIntervalMs: number;
  /** Consecutive OOM errors since Redis last took a write; 0 when it does. */
  private streak = 0;
  private total = 0;
  private sinceLog = 0;
  private firstAt = 0;
  private lastAt = 0;
  private logTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: RedisOomBackoffOptions) {
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.logIntervalMs = options.logIntervalMs ?? 10_000;
  }

  /**
   * For a BullMQ worker's `'error'` listener: when `error` is Redis's OOM refusal, counts it,
   * holds `worker`'s next fetch and returns true (the caller logs nothing); otherwise false.
   */
  handleWorkerError(worker: Worker, error: unknown): boolean {
    if (!isRedisOomError(error)) return false;
    this.options.onOomError?.();
    this.noteOomError();
    const internals = worker as unknown as WorkerInternals;
    internals.limitUntil = Math.max(internals.limitUntil || 0, Date.now() + this.currentDelayMs());
    return true;
  }

  /** Redis took a write (an event moved to active): the OOM episode, if any, is over. */
  markWritable(): void {
    if (this.streak > 0) this.endEpisode('an event moved');
  }

  /** Why this process is not ready while Redis refuses its writes; undefined otherwise. */
  notReadyReason(): string | undefined {
    if (this.streak === 0) return undefined;
    // Errors keep coming at least once per longest hold while Redis stays full.
    if (Date.now() - this.lastAt > 2 * this.maxDelayMs) {
      this.endEpisode('no OOM error since');
      return undefined;
    }
    return `redis out of memory: ${this.total} commands refused since ${new Date(this.firstAt).toISOString()}`;
  }

  /** The hold the latest error set, in ms. */
  currentDelayMs(): number {
    return Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, this.streak - 1));
  }

  close(): void {
    clearInterval(this.logTimer);
    this.logTimer = undefined;
  }

  private noteOomError(): void {
    const now = Date.now();
    if (this.streak === 0) {
      this.firstAt = now;
      this.total = 0;
      this.sinceLog = 0;
      this.options.logger.warn(
        { maxHoldMs: this.maxDelayMs },
        'Redis refuses writes: out of memory (maxmemory reached, noeviction). Queued events wait; fetching backs off until Redis has room',
      );
      this.logTimer = setInterval(() => this.logSummary(), this.logIntervalMs);
      this.logTimer.unref();
    } else {
      this.sinceLog += 1;
    }
    this.streak += 1;
    this.total += 1;
    this.lastAt = now;
  }

  private logSummary(): void {
    if (this.notReadyReason() === undefined || this.sinceLog === 0) return;
    this.options.logger.warn(
      { refused: this.sinceLog, refusedTotal: this.total, intervalMs: this.logIntervalMs },
      'Redis still out of memory: commands refused in the last interval',
    );
    this.sinceLog = 0;
  }

  private endEpisode(why: string): void {
    this.options.logger.info({ refusedTotal: this.total, durationMs: this.lastAt - this.firstAt, why }, 'Redis accepts writes again');
    this.streak = 0;
    this.close();
  }
}
