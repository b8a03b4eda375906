import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/logger';
import { coerceError } from '../errors';
import type { DeadLetterStore } from './dead-letter-store';
import type { RedriveProgress, RedriveStore } from './redrive-store';

export interface RedriveRunnerOptions {
  /**
   * INVOQ_REDRIVE_MAX_WAITING: entries go back to a function's queue only while fewer than this
   * many of its events wait, so a live event waits behind at most this many redriven ones.
   */
  maxWaiting: number;
  /** A dead runner's redrives are taken over this long after its last renewal (default 10 s). */
  leaseMs?: number;
  /** How often unfinished redrives without a live runner are looked for (default 2 s). */
  scanEveryMs?: number;
  /** How long to wait when the backlog is full before looking again (default 100 ms). */
  roomPollMs?: number;
  logger?: Logger;
}

/** What `POST /dlq/redrive` answers: `redriven` is the entries this call took. */
export interface RedriveStart {
  redriven: number;
  /** Each function's redrive; `taken` is 0 for one that was already running. */
  redrives: Array<RedriveProgress & { taken: number }>;
}

/** Entries handled at once within a batch: a few round trips overlap, Redis stays calm. */
const PARALLEL_ENTRIES = 8;
/** Entries read from the snapshot per turn, at most (fewer when the backlog leaves less room). */
const BATCH_ENTRIES = 100;
/** After a Redis error, wait this long before trying again. */
const ERROR_BACKOFF_MS = 1000;

/**
 * Runs bulk redrives in the background, in the API (every replica runs one): the snapshot and
 * its cursor are in Redis, and a function's redrive is run by whichever process holds its lease
 * (`redrive:lease`, renewed at every turn). A stopping API hands its leases back so another
 * replica (or itself, restarted) carries on at once; a dead one's lapse after `leaseMs`, and
 * every replica looks for unfinished redrives at start and every `scanEveryMs`.
 */
export class RedriveRunner {
  private readonly loops = new Map<string, Promise<void>>();
  private readonly sleepers = new Set<() => void>();
  private scanTimer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopping = false;
  private readonly leaseMs: number;
  private readonly scanEveryMs: number;
  private readonly roomPollMs: number;

  constructor(
    private readonly store: RedriveStore,
    private readonly deadLetters: DeadLetterStore,
    private readonly functionNames: () => readonly string[],
    private readonly options: RedriveRunnerOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 10_000;
    this.scanEveryMs = options.scanEveryMs ?? 2_000;
    this.roomPollMs = options.roomPollMs ?? 100;
  }

  /** Resumes unfinished redrives now, and keeps looking for orphaned ones. */
  start(): void {
    const tick = () => {
      this.scanning = this.scan().finally(() => {
        this.scanning = undefined;
        if (!this.stopping) this.scanTimer = setTimeout(tick, this.scanEveryMs).unref();
      });
    };
    tick();
  }

  /** Snapshots the DLQ of one function (or of each) and starts working through it. */
  async begin(functionName?: string): Promise<RedriveStart> {
    const names = functionName ? [functionName] : this.functionNames();
    const started = await Promise.all(
      names.map(async (name) => {
        const { redriveId, taken } = await this.store.start(name);
        if (!redriveId) return undefined;
        if (taken > 0) this.options.logger?.info({ functionName: name, redriveId, taken }, 'redrive started');
        void this.take(name);
        const progress = await this.store.get(redriveId);
        return progress && { ...progress, taken };
      }),
    );
    const redrives = started.filter((r): r is RedriveProgress & { taken: number } => r !== undefined);
    return { redriven: redrives.reduce((sum, r) => sum + r.taken, 0), redrives };
  }

  get(redriveId: string): Promise<RedriveProgress | undefined> {
    return this.store.get(redriveId);
  }

  /** Recent redrives of one function (or of all), newest first. */
  async list(functionName?: string, limit = 100): Promise<RedriveProgress[]> {
    const names = functionName ? [functionName] : this.functionNames();
    const all = (await Promise.all(names.map((name) => this.store.list(name, limit)))).flat();
    return all.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.redriveId.localeCompare(a.redriveId)).slice(0, limit);
  }

  /** Stops after the entries in hand, handing every lease back. */
  async close(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.scanTimer);
    for (const wake of this.sleepers) wake();
    await this.scanning;
    await Promise.all(this.loops.values());
  }

  private async scan(): Promise<void> {
    await Promise.all(
      this.functionNames().map(async (name) => {
        if (this.loops.has(name)) return;
        try {
          if (await this.store.activeOf(name)) await this.take(name);
        } catch (e) {
          this.options.logger?.warn({ functionName: name, err: coerceError(e).message }, 'could not look for unfinished redrives');
        }
      }),
    );
  }

  /** Runs the function's unfinished redrive here if no live process holds its lease. */
  private async take(functionName: string): Promise<void> {
    if (this.stopping || this.loops.has(functionName)) return;
    const token = randomUUID();
    const loop = this.store
      .claim(functionName, token, this.leaseMs)
      .then((claimed) => {
        if (!claimed) return undefined;
        this.options.logger?.info({ functionName }, "running the function's unfinished redrive");
        return this.run(functionName, token);
      })
      .catch((e: unknown) =>
        this.options.logger?.warn({ functionName, err: coerceError(e).message }, 'redrive stopped on an error; it resumes from its cursor'),
      )
      .finally(() => this.loops.delete(functionName));
    this.loops.set(functionName, loop);
    await loop;
  }

  private async run(functionName: string, token: string): Promise<void> {
    const log = this.options.logger;
    try {
      while (!this.stopping) {
        try {
          const redriveId = await this.store.activeOf(functionName);
          if (!redriveId || !(await this.store.renew(functionName, token, this.leaseMs))) return;
          const room = this.options.maxWaiting - (await this.store.waitingCount(functionName));
          if (room <= 0) {
            await this.sleep(this.roomPollMs);
            continue;
          }
          const entries = await this.store.nextEntries(redriveId, Math.min(room, BATCH_ENTRIES));
          if (entries.length === 0) {
            if (await this.store.finish(redriveId, token)) log?.info({ functionName, redriveId, ...(await this.store.get(redriveId)) }, 'redrive finished');
            return;
          }
          for (let i = 0; i < entries.length && !this.stopping; i += PARALLEL_ENTRIES) {
            const outcomes = await Promise.all(
              entries
                .slice(i, i + PARALLEL_ENTRIES)
                .map(async (entry) =>
                  this.store.advance(redriveId, token, entry.id, await this.deadLetters.redriveSnapshotEntry(functionName, entry, redriveId)),
                ),
            );
            if (outcomes.includes(-1)) return; // the lease lapsed and is someone else's now
          }
        } catch (e) {
          log?.warn({ functionName, err: coerceError(e).message }, 'redrive paused on an error; retrying');
          await this.sleep(ERROR_BACKOFF_MS);
        }
      }
    } finally {
      await this.store.release(functionName, token).catch(() => undefined);
    }
  }

  /** A wait that `close` cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }
}
