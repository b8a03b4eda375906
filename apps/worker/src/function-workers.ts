import type { FunctionRegistry, Logger, ResolvedFunction } from '@invoq/core';
import type { FunctionWorker } from './function-worker';

export interface FunctionWorkersDeps {
  registry: FunctionRegistry;
  /** Builds and wires the BullMQ worker of a function's queue (it starts consuming at once). */
  create: (fn: ResolvedFunction) => FunctionWorker;
  /** How many of a function's events one worker takes at once (its reservedConcurrency may change). */
  concurrencyOf: (fn: ResolvedFunction) => number;
  /** A function stopped being served (deleted): what to do with its queued events. */
  onRemoved: (functionName: string) => Promise<void>;
  logger: Logger;
}

/**
 * One BullMQ worker per function the registry serves, following it at run time: a deployed
 * function gets its worker when this process learns of it, and a deleted one's worker stops
 * taking events (the running ones finish) while its queued events are dealt with.
 */
export class FunctionWorkers {
  private readonly byName = new Map<string, FunctionWorker>();
  /** Workers of functions no longer served, still finishing their runs. */
  private readonly retiring = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly deps: FunctionWorkersDeps) {}

  get(functionName: string): FunctionWorker | undefined {
    return this.byName.get(functionName);
  }

  all(): FunctionWorker[] {
    return [...this.byName.values()];
  }

  /** Starts, stops or adjusts workers so there is one per function served now; true when one was started or stopped. */
  sync(): boolean {
    if (this.closed) return false;
    const served = new Map(this.deps.registry.list().map((fn) => [fn.name, fn]));
    let changed = false;
    for (const [name, fn] of served) {
      const worker = this.byName.get(name);
      if (!worker) {
        this.byName.set(name, this.deps.create(fn));
        changed = true;
      } else if (worker.concurrency !== this.deps.concurrencyOf(fn)) worker.concurrency = this.deps.concurrencyOf(fn);
    }
    for (const [name, worker] of this.byName) {
      if (served.has(name)) continue;
      this.byName.delete(name);
      changed = true;
      this.deps.logger.info({ functionName: name }, 'function no longer served: its worker stops taking events');
      const retired = Promise.all([worker.close(), this.deps.onRemoved(name)]).then(
        () => undefined,
        (e: unknown) => this.deps.logger.warn({ functionName: name, err: (e as Error).message }, 'could not retire the worker of a removed function'),
      );
      this.retiring.add(retired);
      void retired.finally(() => this.retiring.delete(retired));
    }
    return changed;
  }

  /** Closes every worker (BullMQ's close: running events finish) and waits for the retiring ones. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.all().map((w) => w.close()), ...this.retiring]);
  }
}
