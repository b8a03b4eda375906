import type { Logger } from '../logging/logger';
import type { ResolvedFunction } from '../functions/resolved-function';
import type { CodeCache } from './code-cache';
import { codeInUse, type DeployedFunction } from './deployed-function';
import { resolveDeployedVersion } from './deployed-resolution';
import type { FunctionStore } from './function-store';

/** How often every process reads all deployed functions again, whatever it heard. */
const RECONCILE_MS = 1000;
/** How often the local code cache drops code no deployed function uses any more. */
const PRUNE_EVERY_MS = 60_000;
/**
 * Unused code stays this long after its last use: an environment started on it just before the
 * change may still load files from it, and a create extracts its zip before the function exists.
 */
const PRUNE_GRACE_MS = 600_000;

/** A deployed function as this process serves it: its document and each version ready to run. */
export interface CatalogEntry {
  fn: DeployedFunction;
  /** `$LATEST` and every published version whose code is extracted here. */
  versions: ReadonlyMap<string, ResolvedFunction>;
}

export interface DeployedCatalogOptions {
  store: FunctionStore;
  codeCache: CodeCache;
  region: string;
  logger: Logger;
}

/**
 * What this process knows of the deployed functions, kept in step with Redis: a change published
 * by any process is read at once, and every RECONCILE_MS all of them are read again, so a lost
 * message, or a process started later, still converges. A function's versions become visible
 * only once their code is extracted here, so a resolved version always runs.
 */
export class DeployedCatalog {
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly listeners: Array<(name: string) => void> = [];
  /** Per function, the refresh in progress: reads of one function apply in order. */
  private readonly refreshing = new Map<string, Promise<void>>();
  private unsubscribe: (() => Promise<void>) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private prunedAt = Date.now();
  private closed = false;

  constructor(private readonly options: DeployedCatalogOptions) {}

  /**
   * Subscribes to changes and reads every deployed function once; then reconciles in the
   * background. With Redis away it resolves all the same (after the connection's own wait), and
   * the next rounds try again.
   */
  async start(): Promise<void> {
    const round = async () => {
      if (!this.unsubscribe) await this.subscribe();
      await this.reconcile();
    };
    const tick = () => {
      this.timer = setTimeout(() => void round().finally(() => !this.closed && tick()), RECONCILE_MS);
      this.timer.unref();
    };
    await round();
    if (!this.closed) tick();
  }

  private async subscribe(): Promise<void> {
    try {
      this.unsubscribe = await this.options.store.subscribe((name) => void this.refresh(name));
    } catch (e) {
      this.options.logger.warn({ err: (e as Error).message }, 'could not subscribe to deployment changes yet; reading them every round meanwhile');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.unsubscribe?.().catch(() => undefined);
    await Promise.all(this.refreshing.values());
  }

  /** Called with a function's name whenever what this process serves of it changed (added, changed, removed). */
  onChange(listener: (name: string) => void): void {
    this.listeners.push(listener);
  }

  get(name: string): CatalogEntry | undefined {
    return this.entries.get(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Every code hash the functions known here use (what the local code cache must keep). */
  codeHashesInUse(): Set<string> {
    const hashes = new Set<string>();
    for (const { fn } of this.entries.values()) for (const hash of codeInUse(fn)) hashes.add(hash);
    return hashes;
  }

  /** Reads one function from Redis now and applies it; resolves once applied. */
  refresh(name: string): Promise<void> {
    const previous = this.refreshing.get(name) ?? Promise.resolve();
    const next = previous
      .then(async () => this.apply(name, await this.options.store.get(name)))
      .catch((e: unknown) => this.options.logger.warn({ functionName: name, err: (e as Error).message }, 'could not read a deployed function; will try again'));
    this.refreshing.set(name, next);
    void next.finally(() => this.refreshing.get(name) === next && this.refreshing.delete(name));
    return next;
  }

  /** Reads every deployed function; a failure (Redis away) is logged and retried at the next round. */
  async reconcile(): Promise<void> {
    try {
      const names = await this.options.store.names();
      const docs = await this.options.store.getMany(names);
      const stale = [...this.entries.keys()].filter((name) => !docs.has(name));
      const changed = [...docs.values()].filter((fn) => !this.isCurrent(fn)).map((fn) => fn.name);
      await Promise.all([...stale, ...changed].map((name) => this.refresh(name)));
      if (Date.now() - this.prunedAt >= PRUNE_EVERY_MS) {
        this.prunedAt = Date.now();
        await this.options.codeCache.prune(this.codeHashesInUse(), PRUNE_GRACE_MS);
      }
    } catch (e) {
      if (!this.closed) this.options.logger.warn({ err: (e as Error).message }, 'could not read the deployed functions; will try again');
    }
  }

  private isCurrent(fn: DeployedFunction): boolean {
    const known = this.entries.get(fn.name)?.fn;
    return known !== undefined && known.etag === fn.etag && known.createdAt === fn.createdAt;
  }

  private async apply(name: string, fn: DeployedFunction | undefined): Promise<void> {
    if (this.closed) return;
    if (!fn) {
      if (this.entries.delete(name)) this.emit(name);
      return;
    }
    if (this.isCurrent(fn)) return;
    const versions = new Map<string, ResolvedFunction>();
    const records = [fn.latest, ...Object.values(fn.versions)];
    for (const record of records) {
      const directory = await this.options.codeCache.directoryFor(record.codeSha256, async () => {
        const zip = await this.options.store.getCode(name, record.codeSha256);
        if (!zip) throw new Error(`the code ${record.codeSha256} of ${name} is not in Redis`);
        return zip;
      });
      const resolved = resolveDeployedVersion(fn, record, directory, this.options.region);
      if (resolved) versions.set(record.version, resolved);
      else
        this.options.logger.error(
          { functionName: name, version: record.version, handler: record.handler },
          'a deployed version has no handler module; it cannot run',
        );
    }
    this.entries.set(name, { fn, versions });
    this.emit(name);
  }

  private emit(name: string): void {
    for (const listener of this.listeners) listener(name);
  }
}
