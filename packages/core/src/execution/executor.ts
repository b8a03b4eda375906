import os from 'node:os';
import { InvoqError, NotStartedError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import { Environment } from './environment';
import type { BusyMark, ExecutionEnvironment, OnEnvironmentDeath, RunReply } from './execution-environment';
import { ProcessEnvironment } from './process-environment';
import { runsInProcess } from '../functions/runtimes';
import { invokeHttpFunction } from './http-runtime';
import { DEFAULT_REGION } from '../functions/resolved-function';
import { newTraceId } from '../invocation/trace-id';
import type { ExecutorOptions } from './executor-options';
import type { InvocationOutcome, InvocationRequest } from './invocation';

interface Waiter {
  fn: ResolvedFunction;
  resolve: (env: ExecutionEnvironment) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Runs invocations in execution environments (worker threads), shared by the sync and async
 * paths. Measured on 2 cores, more busy threads than cores serve CPU-light calls at half the
 * rate, so a call prefers a warm idle environment, then waits for a busy one of its function,
 * and a new environment starts only when the busy ones are all stuck in long (waiting) calls.
 */
export class Executor {
  private readonly maxEnvironments: number;
  private readonly idleTimeoutMs: number;
  private readonly scaleUpAfterMs: number;
  private readonly unconditionalEnvironments: number;
  private readonly cores: number;
  private readonly runsPerEnvironment: number;
  private readonly queueBehindRunMs: number;
  /** Idle environments per function, most recently used last. */
  private readonly idle = new Map<string, ExecutionEnvironment[]>();
  /** Every live environment per function, busy or idle. */
  private readonly live = new Map<string, Set<ExecutionEnvironment>>();
  private total = 0;
  private readonly waiters: Waiter[] = [];
  private readonly scaleChecks = new Map<string, NodeJS.Timeout>();
  /** Execution keys of code or configuration no longer current: their environments end when idle. */
  private readonly retired = new Set<string>();
  /** Utilisation marks taken when a scale check was armed, per environment. */
  private readonly utilizationMarks = new WeakMap<ExecutionEnvironment, BusyMark>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: ExecutorOptions = {}) {
    this.maxEnvironments = options.maxEnvironments ?? 16;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
    this.scaleUpAfterMs = options.scaleUpAfterMs ?? 5;
    this.unconditionalEnvironments = options.unconditionalEnvironments ?? 2;
    this.cores = options.cores ?? os.availableParallelism();
    this.runsPerEnvironment = options.runsPerEnvironment ?? 16;
    this.queueBehindRunMs = options.queueBehindRunMs ?? 1;
    this.sweeper = setInterval(() => this.reclaimIdle(), Math.min(this.idleTimeoutMs, 30_000));
    this.sweeper.unref();
  }

  /** Environments alive now, for tests and gauges. */
  get environmentCount(): number {
    return this.total;
  }

  /**
   * Runs one invocation. Waits up to `waitMs` for an environment when all are busy, then starts
   * one of its own, or throws `TooManyRequestsException` (`ConcurrentInvocationLimitExceeded`)
   * when none can be had (the function's or the process's limit reached).
   */
  async invoke(fn: ResolvedFunction, request: InvocationRequest, waitMs = Infinity): Promise<InvocationOutcome> {
    const traceId = request.traceId ?? newTraceId();
    if (fn.config.runtime === 'http') {
      if (request.signal?.aborted) throw new NotStartedError();
      request.onStart?.();
      return invokeHttpFunction(fn, request, traceId);
    }
    for (;;) {
      if (this.closed) throw new InvoqError('SERVICE', 'executor is shutting down');
      if (request.signal?.aborted) throw new NotStartedError();
      const env =
        this.takeIdle(fn) ??
        (this.countOf(fn) === 0 ? this.startNew(fn) : undefined) ??
        this.takeQueueable(fn) ??
        (await this.waitForEnvironment(fn, waitMs, request));
      request.onStart?.();
      let reply: RunReply;
      try {
        reply = await env.run({ requestId: request.requestId, payload: request.payload, clientContext: request.clientContext, traceId });
      } finally {
        this.release(env);
        this.options.onRoom?.();
      }
      // It waited behind a run that killed its environment, and never began: run it elsewhere.
      if (reply.kind === 'not-started') continue;
      if (reply.kind === 'invalid-payload') {
        throw new InvoqError('INVALID_REQUEST_CONTENT', `Could not parse request body into json: ${reply.message}`);
      }
      const functionError = reply.kind === 'function-error' ? reply.error : undefined;
      return {
        requestId: request.requestId,
        traceId,
        body: reply.kind === 'result' ? reply.body : (reply.errorBody ?? JSON.stringify(reply.error)),
        functionError,
        durationMs: reply.durationMs,
        initDurationMs: reply.initMs,
        maxMemoryUsedMb: reply.memoryUsedMb,
        logs: reply.logs,
      };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const timer of this.scaleChecks.values()) clearTimeout(timer);
    for (const waiter of this.waiters.splice(0)) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(new InvoqError('SERVICE', 'executor is shutting down'));
    }
    const idle = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.all(idle.map((env) => env.terminate()));
  }

  /**
   * Retires the environments whose code or configuration is no longer current (a deployed
   * function changed or was deleted): idle ones end now, busy ones once their runs end, so no
   * invocation runs on a mix of old and new.
   */
  retire(isCurrent: (executionKey: string) => boolean): void {
    for (const key of this.live.keys()) {
      if (isCurrent(key)) continue;
      this.retired.add(key);
      for (const env of [...(this.idle.get(key) ?? [])]) {
        this.forget(env);
        void env.terminate();
      }
    }
  }

  /**
   * How many more runs of `fn` would get an environment now, without waiting: its idle ones, the
   * room behind its short runs (`runsPerEnvironment`), and a first environment when it has none
   * and one can be had. Past that, a run waits while the scale-up rule decides. Unbounded for
   * `http` functions, which need no environment.
   */
  roomFor(fn: ResolvedFunction): number {
    if (fn.config.runtime === 'http') return Infinity;
    if (this.closed) return 0;
    let room = this.idle.get(fn.executionKey)?.length ?? 0;
    for (const env of this.live.get(fn.executionKey) ?? []) {
      if (this.canQueueOn(env)) room += this.runsPerEnvironment - env.outstanding;
    }
    if (this.countOf(fn) === 0 && this.capacityOf(fn) > 0 && (this.total < this.maxEnvironments || this.hasIdleOfOtherFunction(fn))) room += 1;
    return room;
  }

  private hasIdleOfOtherFunction(fn: ResolvedFunction): boolean {
    for (const [name, list] of this.idle) if (name !== fn.executionKey && list.length > 0) return true;
    return false;
  }

  private countOf(fn: ResolvedFunction): number {
    return this.live.get(fn.executionKey)?.size ?? 0;
  }

  private capacityOf(fn: ResolvedFunction): number {
    const reserved = fn.config.reservedConcurrency;
    return reserved === undefined ? this.maxEnvironments : Math.min(reserved, this.maxEnvironments);
  }

  private takeIdle(fn: ResolvedFunction): ExecutionEnvironment | undefined {
    // Most recently used first: it is warmest, and the others can idle out.
    return this.idle.get(fn.executionKey)?.pop();
  }

  /** A busy environment of `fn` whose runs are short, with room for one more behind them. */
  private takeQueueable(fn: ResolvedFunction): ExecutionEnvironment | undefined {
    let best: ExecutionEnvironment | undefined;
    for (const env of this.live.get(fn.executionKey) ?? []) {
      if (this.canQueueOn(env) && (!best || env.outstanding < best.outstanding)) best = env;
    }
    return best;
  }

  private canQueueOn(env: ExecutionEnvironment): boolean {
    return !env.isDead && env.isWarm && env.outstanding < this.runsPerEnvironment && this.runsAreShort(env);
  }

  /** Its recent runs took at most `queueBehindRunMs`: runs may queue behind each other in it. */
  private runsAreShort(env: ExecutionEnvironment): boolean {
    return env.recentRunMs !== undefined && env.recentRunMs <= this.queueBehindRunMs;
  }

  private startNew(fn: ResolvedFunction): ExecutionEnvironment | undefined {
    if (this.closed || this.countOf(fn) >= this.capacityOf(fn)) return undefined;
    if (this.total >= this.maxEnvironments && !this.evictIdleOfOtherFunction(fn)) return undefined;
    const onDeath: OnEnvironmentDeath = (dead, late) => {
      this.forget(dead);
      if (late) this.options.onLateError?.(dead.fn, late.requestId, late.error);
    };
    const region = this.options.region ?? DEFAULT_REGION;
    const env = runsInProcess(fn.config)
      ? new ProcessEnvironment(fn, { region, sandbox: this.options.sandbox ?? { kind: 'none' } }, onDeath)
      : new Environment(fn, { region }, onDeath);
    this.total += 1;
    const set = this.live.get(fn.executionKey) ?? new Set();
    set.add(env);
    this.live.set(fn.executionKey, set);
    return env;
  }

  /** Frees a slot held by an idle environment of another function (least recently used first). */
  private evictIdleOfOtherFunction(fn: ResolvedFunction): boolean {
    let victim: ExecutionEnvironment | undefined;
    for (const [name, list] of this.idle) {
      if (name === fn.executionKey || list.length === 0) continue;
      if (!victim || list[0]!.lastUsedAt < victim.lastUsedAt) victim = list[0];
    }
    if (!victim) return false;
    this.forget(victim);
    void victim.terminate();
    return true;
  }

  private waitForEnvironment(fn: ResolvedFunction, waitMs: number, request?: InvocationRequest): Promise<ExecutionEnvironment> {
    request?.onWait?.();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { fn, resolve, reject, timer: undefined };
      if (Number.isFinite(waitMs)) {
        waiter.timer = setTimeout(() => {
          // Waited its time behind computing environments: it gets one of its own if one can be
          // had (the cores are shared, but a 429 with environments free is worse); only with
          // none to be had is it refused.
          const env = this.startNew(fn);
          if (env) {
            this.handTo(waiter, env);
            return;
          }
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new InvoqError('THROTTLED', 'Rate Exceeded.', { reason: 'ConcurrentInvocationLimitExceeded', retryAfterSeconds: 1 }));
        }, waitMs);
      }
      this.giveUpOnAbort(waiter, request?.signal);
      this.waiters.push(waiter);
      this.armScaleCheck(fn);
      // An environment of another function may be idle and evictable, or capacity free.
      if (this.countOf(fn) === 0) this.dispatch();
    });
  }

  /** A waiter whose caller gives up (`signal`) leaves the line, having started nothing. */
  private giveUpOnAbort(waiter: Waiter, signal: AbortSignal | undefined): void {
    if (!signal) return;
    const giveUp = () => {
      const index = this.waiters.indexOf(waiter);
      if (index < 0) return;
      this.waiters.splice(index, 1);
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(new NotStartedError());
    };
    signal.addEventListener('abort', giveUp, { once: true });
    const { resolve, reject } = waiter;
    waiter.resolve = (env) => (signal.removeEventListener('abort', giveUp), resolve(env));
    waiter.reject = (error) => (signal.removeEventListener('abort', giveUp), reject(error));
  }

  /** While calls of `fn` wait, check every few ms whether its busy environments are stuck. */
  private armScaleCheck(fn: ResolvedFunction): void {
    if (this.scaleChecks.has(fn.executionKey)) return;
    for (const env of this.live.get(fn.executionKey) ?? []) this.utilizationMarks.set(env, env.busyMark());
    this.scaleChecks.set(
      fn.executionKey,
      setTimeout(() => {
        this.scaleChecks.delete(fn.executionKey);
        this.scaleUp(fn);
      }, this.scaleUpAfterMs),
    );
  }

  private scaleUp(fn: ResolvedFunction): void {
    const waiting = this.waiters.filter((w) => w.fn.executionKey === fn.executionKey);
    if (waiting.length === 0) return;
    const envs = [...(this.live.get(fn.executionKey) ?? [])];
    // An environment's mark when it has been in one run since the last check, as the environment
    // itself tells it, not merely answered with the answer still queued here: a flood of no-op
    // calls never looks like this (though the main thread, busy, may leave their answers unread
    // for a check or two), so it stays on few threads.
    const longRunMark = (env: ExecutionEnvironment) => {
      const mark = this.utilizationMarks.get(env);
      return mark !== undefined && env.inOneRunSince(mark) ? mark : undefined;
    };
    // More threads than cores only slow CPU work down (measured: 8 busy threads served half the
    // calls of 2), so computing runs get one per core, while runs that wait (the thread idle,
    // e.g. on I/O) get as many as they need.
    const stuck = envs.every((env) => {
      const mark = longRunMark(env);
      return mark !== undefined && env.busySince(mark) < 0.5;
    });
    // Warm ones only: a cold start is not the function computing, and a burst of no-op calls
    // behind one would otherwise start a second thread for nothing. Nor runs known to be short
    // (those that queue): one is in a run across a check only when its thread was descheduled.
    const computing = envs.length < this.cores && envs.every((env) => env.isWarm && !this.runsAreShort(env) && longRunMark(env) !== undefined);
    // One more environment per check, not one per waiter: a burst of waiters behind a brief
    // stall (a GC, a descheduled thread) would otherwise start a thread for each of them.
    const env = stuck || computing || this.countOf(fn) < this.unconditionalEnvironments ? this.startNew(fn) : undefined;
    if (env) this.handTo(waiting[0]!, env);
    if (this.waiters.some((w) => w.fn.executionKey === fn.executionKey)) this.armScaleCheck(fn);
  }

  private handTo(waiter: Waiter, env: ExecutionEnvironment): void {
    this.waiters.splice(this.waiters.indexOf(waiter), 1);
    if (waiter.timer) clearTimeout(waiter.timer);
    waiter.resolve(env);
  }

  private release(env: ExecutionEnvironment): void {
    if (env.isDead) {
      this.dispatch();
      return;
    }
    // A run that outlived close() (e.g. a gateway call answered 504 meanwhile) ends its thread.
    if (this.closed) {
      if (env.outstanding > 0) return;
      this.forget(env);
      void env.terminate();
      return;
    }
    // Hand a warm environment straight to the oldest waiter of the same function.
    const waiter = this.waiters.find((w) => w.fn.executionKey === env.fn.executionKey);
    if (waiter && (env.outstanding === 0 || this.canQueueOn(env))) {
      this.handTo(waiter, env);
      return;
    }
    // Still running the runs queued behind this one.
    if (env.outstanding > 0) return;
    if (this.retired.has(env.fn.executionKey)) {
      this.forget(env);
      void env.terminate();
      return;
    }
    env.lastUsedAt = Date.now();
    const list = this.idle.get(env.fn.executionKey) ?? [];
    // Answers read together end their runs before any of their releases: each finds it idle.
    if (!list.includes(env)) list.push(env);
    this.idle.set(env.fn.executionKey, list);
    this.dispatch();
  }

  /**
   * Serves waiters of functions that have no environment at all (all slots were held by other
   * functions), oldest first, once a slot frees or an idle one can be evicted.
   */
  private dispatch(): void {
    for (const waiter of [...this.waiters]) {
      const env = this.takeIdle(waiter.fn) ?? (this.countOf(waiter.fn) === 0 ? this.startNew(waiter.fn) : undefined);
      if (env) this.handTo(waiter, env);
    }
  }

  private removeIdle(env: ExecutionEnvironment): void {
    const list = this.idle.get(env.fn.executionKey);
    const index = list?.indexOf(env) ?? -1;
    if (list && index >= 0) list.splice(index, 1);
  }

  private forget(env: ExecutionEnvironment): void {
    const set = this.live.get(env.fn.executionKey);
    if (!set?.delete(env)) return;
    if (set.size === 0) {
      this.live.delete(env.fn.executionKey);
      this.retired.delete(env.fn.executionKey);
    }
    this.removeIdle(env);
    this.total -= 1;
    queueMicrotask(() => {
      this.dispatch();
      this.options.onRoom?.();
    });
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
