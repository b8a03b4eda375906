import { InvoqError, type FunctionError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import { Environment, type RunReply } from './environment';
import { invokeHttpFunction } from './http-runtime';

export interface InvocationRequest {
  requestId: string;
  /** The request body exactly as received; `''` means `{}`. */
  payload: string;
  /** `X-Amz-Client-Context`, decoded to JSON text. */
  clientContext?: string;
}

export interface InvocationOutcome {
  requestId: string;
  /** JSON text to answer with: the result, or the error object when `functionError` is set. */
  body: string;
  functionError: FunctionError | undefined;
  durationMs: number;
  initDurationMs: number | undefined;
  maxMemoryUsedMb: number | undefined;
  /** What the function printed, one Lambda-formatted line each. */
  logs: string[];
}

export interface ExecutorOptions {
  /** Environments (threads) this process may hold, all functions together. Default 16. */
  maxEnvironments?: number;
  /** An idle environment is reclaimed after this long. Default 5 minutes. */
  idleTimeoutMs?: number;
  /** Told when an environment dies between runs (a late error left by `requestId`). */
  onLateError?: (fn: ResolvedFunction, requestId: string | undefined, error: FunctionError) => void;
}

interface Waiter {
  fn: ResolvedFunction;
  resolve: (env: Environment) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs invocations in execution environments (worker threads), shared by the sync and async
 * paths. A warm idle environment of the function is always preferred; a new one starts only
 * when all of that function's are busy, because on few cores extra busy threads cost more
 * than they give.
 */
export class Executor {
  private readonly maxEnvironments: number;
  private readonly idleTimeoutMs: number;
  /** Idle environments per function, most recently used last. */
  private readonly idle = new Map<string, Environment[]>();
  private readonly countByFunction = new Map<string, number>();
  private total = 0;
  private readonly waiters: Waiter[] = [];
  private readonly forgotten = new WeakSet<Environment>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: ExecutorOptions = {}) {
    this.maxEnvironments = options.maxEnvironments ?? 16;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
    this.sweeper = setInterval(() => this.reclaimIdle(), Math.min(this.idleTimeoutMs, 30_000));
    this.sweeper.unref();
  }

  /** Environments alive now, for tests and gauges. */
  get environmentCount(): number {
    return this.total;
  }

  /**
   * Runs one invocation. Waits up to `waitMs` for an environment when all are busy, then throws
   * `TooManyRequestsException` (`ConcurrentInvocationLimitExceeded`).
   */
  async invoke(fn: ResolvedFunction, request: InvocationRequest, waitMs = Infinity): Promise<InvocationOutcome> {
    if (fn.config.runtime === 'http') return invokeHttpFunction(fn, request);
    const env = this.takeIdle(fn) ?? this.startNew(fn) ?? (await this.waitForEnvironment(fn, waitMs));
    const started = performance.now();
    let reply: RunReply;
    try {
      reply = await env.run({ requestId: request.requestId, payload: request.payload, clientContext: request.clientContext });
    } finally {
      this.release(env);
    }
    const durationMs = performance.now() - started - (reply.kind === 'invalid-payload' ? 0 : reply.initMs ?? 0);
    if (reply.kind === 'invalid-payload') {
      throw new InvoqError('INVALID_REQUEST_CONTENT', `Could not parse request body into json: ${reply.message}`);
    }
    const functionError = reply.kind === 'function-error' ? reply.error : undefined;
    return {
      requestId: request.requestId,
      body: reply.kind === 'result' ? reply.body : JSON.stringify(reply.error),
      functionError,
      durationMs,
      initDurationMs: reply.initMs,
      maxMemoryUsedMb: reply.heapUsedMb,
      logs: reply.logs,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(new InvoqError('SERVICE', 'executor is shutting down'));
    }
    const idle = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all(idle.map((env) => env.terminate()));
  }

  private capacityOf(fn: ResolvedFunction): number {
    const reserved = fn.config.reservedConcurrency;
    return reserved === undefined ? this.maxEnvironments : Math.min(reserved, this.maxEnvironments);
  }

  private takeIdle(fn: ResolvedFunction): Environment | undefined {
    const list = this.idle.get(fn.name);
    // Most recently used first: it is warmest, and the others can idle out.
    return list?.pop();
  }

  private startNew(fn: ResolvedFunction): Environment | undefined {
    if (this.closed) throw new InvoqError('SERVICE', 'executor is shutting down');
    if ((this.countByFunction.get(fn.name) ?? 0) >= this.capacityOf(fn)) return undefined;
    if (this.total >= this.maxEnvironments && !this.evictIdleOfOtherFunction(fn)) return undefined;
    this.total += 1;
    this.countByFunction.set(fn.name, (this.countByFunction.get(fn.name) ?? 0) + 1);
    return new Environment(fn, (env, late) => {
      this.forget(env);
      if (late) this.options.onLateError?.(env.fn, late.requestId, late.error);
    });
  }

  /** Frees a slot held by an idle environment of another function (least recently used first). */
  private evictIdleOfOtherFunction(fn: ResolvedFunction): boolean {
    let victim: Environment | undefined;
    for (const [name, list] of this.idle) {
      if (name === fn.name || list.length === 0) continue;
      if (!victim || list[0]!.lastUsedAt < victim.lastUsedAt) victim = list[0];
    }
    if (!victim) return false;
    this.removeIdle(victim);
    this.forget(victim);
    void victim.terminate();
    return true;
  }

  private waitForEnvironment(fn: ResolvedFunction, waitMs: number): Promise<Environment> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { fn, resolve, reject, timer: undefined };
      if (Number.isFinite(waitMs)) {
        waiter.timer = setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new InvoqError('THROTTLED', 'Rate Exceeded.', { reason: 'ConcurrentInvocationLimitExceeded', retryAfterSeconds: 1 }));
        }, waitMs);
      }
      this.waiters.push(waiter);
    });
  }

  private release(env: Environment): void {
    if (env.isDead) {
      this.dispatch();
      return;
    }
    // Hand a warm environment straight to a waiter of the same function.
    const index = this.waiters.findIndex((w) => w.fn.name === env.fn.name);
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1);
      if (waiter!.timer) clearTimeout(waiter!.timer);
      waiter!.resolve(env);
      return;
    }
    env.lastUsedAt = Date.now();
    const list = this.idle.get(env.fn.name) ?? [];
    list.push(env);
    this.idle.set(env.fn.name, list);
    this.dispatch();
  }

  /** Serves waiters of other functions once a slot frees, oldest first. */
  private dispatch(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      const env = this.takeIdle(waiter.fn) ?? (this.closed ? undefined : this.startNew(waiter.fn));
      if (!env) {
        i += 1;
        continue;
      }
      this.waiters.splice(i, 1);
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.resolve(env);
    }
  }

  private removeIdle(env: Environment): void {
    const list = this.idle.get(env.fn.name);
    const index = list?.indexOf(env) ?? -1;
    if (list && index >= 0) list.splice(index, 1);
  }

  private forget(env: Environment): void {
    if (this.forgotten.has(env)) return;
    this.forgotten.add(env);
    this.removeIdle(env);
    this.total -= 1;
    this.countByFunction.set(env.fn.name, (this.countByFunction.get(env.fn.name) ?? 1) - 1);
    queueMicrotask(() => this.dispatch());
  }

  private reclaimIdle(): void {
    const cutoff = Date.now() - this.idleTimeoutMs;
    for (const list of this.idle.values()) {
      for (const env of [...list]) {
        if (env.lastUsedAt < cutoff) {
          this.forget(env);
          void env.terminate();
        }
      }
    }
  }
}
