import fs from 'node:fs';
import path from 'node:path';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { FunctionError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import { runtimeExitError, timeoutError, toFunctionError } from './function-error';
import { lambdaEnvironment, newLogStreamName } from './lambda-environment';
import { INIT_TIMEOUT_MS, type InvokeMessage, type ThreadData, type ThreadMessage, type ThreadReply } from './thread-protocol';

/** A run the main thread ended itself: the thread timed out or died during it. */
type EndedRun = { kind: 'function-error'; error: FunctionError; initMs: undefined; durationMs: number; heapUsedMb: undefined };

/**
 * What one run in an environment produced, as seen from the main thread, with its log lines.
 * `not-started`: it waited behind a run that killed the environment, so it never began and can
 * run elsewhere.
 */
export type RunReply = (ThreadReply | EndedRun | { kind: 'not-started' }) & { logs: string[] };

function threadEntry(): string {
  const compiled = path.join(__dirname, 'environment-thread.js');
  // Under ts-jest this module runs from src/, where only the compiled build has the thread's JS.
  return fs.existsSync(compiled) ? compiled : path.join(__dirname, '../../dist/execution/environment-thread.js');
}
const THREAD_ENTRY = threadEntry();

/** What every environment of a process shares. */
export interface EnvironmentSettings {
  /** `AWS_REGION` / `AWS_DEFAULT_REGION`. */
  region: string;
}

interface PendingRun {
  requestId: string;
  resolve: (reply: RunReply) => void;
  /** Armed when the run reaches the thread's front (the runs before it have answered). */
  timer: NodeJS.Timeout | undefined;
}

/**
 * One execution environment: a worker thread that belongs to one function and runs one
 * invocation at a time. Runs posted while one is running wait in order in the thread (the
 * executor queues a few behind short runs). On timeout or crash it dies and is never reused.
 */
export class Environment {
  readonly fn: ResolvedFunction;
  lastUsedAt = Date.now();
  /** performance.now() when the current run started; undefined while idle. */
  runStartedAt: number | undefined;
  /** Recent runs' duration in the thread (a moving average), in ms; undefined before the first. */
  recentRunMs: number | undefined;
  private readonly worker: Worker;
  /** Posted runs not answered yet, oldest first; the first is the one running. */
  private readonly runs: PendingRun[] = [];
  /** Lines since the last run ended; lines logged between runs (a late timer) go to the next. */
  private logs: string[] = [];
  private lastRequestId: string | undefined;
  private dead = false;
  /** The handler module is loaded (after the first run's init-done). */
  private initialized = false;
  private readonly inRun = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    fn: ResolvedFunction,
    settings: EnvironmentSettings,
    private readonly onDeath: (env: Environment, lateError?: { requestId: string | undefined; error: FunctionError }) => void,
  ) {
    this.fn = fn;
    const logStreamName = newLogStreamName();
    const data: ThreadData = {
      functionName: fn.name,
      functionArn: fn.arn,
      handlerFile: fn.handlerFile!,
      handlerPath: fn.handlerExport!,
      handlerSetting: fn.config.handler ?? '',
      memorySizeMb: fn.config.memorySize,
      logStreamName,
      inRunFlag: this.inRun.buffer as SharedArrayBuffer,
    };
    // The function's environment and Lambda's variables; the service's own (secrets) never.
    const env = lambdaEnvironment(fn, { region: settings.region, logStreamName, runtimeDir: path.dirname(THREAD_ENTRY), serviceEnv: process.env });
    this.worker = new Worker(THREAD_ENTRY, {
      workerData: data,
      env,
      resourceLimits: { maxOldGenerationSizeMb: fn.config.memorySize },
      stdout: false,
      stderr: false,
    });
    this.worker.on('message', (message: ThreadMessage) => {
      if (message.kind === 'log') this.logs.push(message.line);
      else if (message.kind === 'init-done') this.startTimeout();
      else if (message.kind === 'function-error' && message.discardEnvironment) this.discard(message);
      else this.settle(message);
    });
    this.worker.on('error', (err) => this.die(toFunctionError(err)));
    this.worker.on('exit', (code) => this.die(undefined, code));
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** True while the thread holds a run it has not answered yet (it may be waiting on I/O). */
  get threadInRun(): boolean {
    return Atomics.load(this.inRun, 0) === 1;
  }

  /** The thread's event-loop utilisation so far; pass it back to `busySince` later. */
  utilization(): EventLoopUtilization {
    return this.worker.performance.eventLoopUtilization();
  }

  /**
   * Share of time the thread was running code since `mark`: near 1 for CPU work (a cold start,
   * a busy handler), near 0 for a handler waiting on I/O or a timer.
   */
  busySince(mark: EventLoopUtilization): number {
    const delta = this.worker.performance.eventLoopUtilization(mark);
    // A thread still booting has no event loop yet (0 of 0): it is busy, not waiting.
    return delta.idle + delta.active === 0 ? 1 : delta.utilization;
  }

  /** Runs posted and not answered yet, the running one included. */
  get outstanding(): number {
    return this.runs.length;
  }

  /** True once the handler module has loaded: a queued run then waits only for runs, not init. */
  get isWarm(): boolean {
    return this.initialized;
  }

  run(message: Omit<InvokeMessage, 'timeoutMs'>): Promise<RunReply> {
    if (this.dead) throw new Error(`environment of ${this.fn.name} is dead`);
    return new Promise((resolve) => {
      const pending: PendingRun = { requestId: message.requestId, resolve, timer: undefined };
      this.runs.push(pending);
      if (this.runs.length === 1) this.begin(pending);
      this.worker.postMessage({ ...message, timeoutMs: this.fn.timeoutMs } satisfies InvokeMessage);
    });
  }

  /** The thread starts `pending` now: it is first in line. */
  private begin(pending: PendingRun): void {
    // Warm: the timeout runs from now. Cold: loading the module has its own limit first, and
    // the timeout starts when the thread says the handler is loaded (init-done).
    pending.timer = setTimeout(() => this.timeOut(), this.initialized ? this.fn.timeoutMs : INIT_TIMEOUT_MS + this.fn.timeoutMs);
    this.runStartedAt = performance.now();
    this.lastRequestId = pending.requestId;
  }

  private startTimeout(): void {
    this.initialized = true;
    const current = this.runs[0];
    if (!current) return;
    clearTimeout(current.timer);
    current.timer = setTimeout(() => this.timeOut(), this.fn.timeoutMs);
  }

  terminate(): Promise<number> {
    this.dead = true;
    return this.worker.terminate();
  }

  /** The running run answered (or was ended here); the next one in line starts. */
  private settle(reply: ThreadReply | EndedRun): void {
    const pending = this.runs.shift();
    if (!pending) return;
    clearTimeout(pending.timer);
    this.lastUsedAt = Date.now();
    if (reply.kind !== 'invalid-payload') {
      this.recentRunMs = this.recentRunMs === undefined ? reply.durationMs : 0.8 * this.recentRunMs + 0.2 * reply.durationMs;
    }
    const logs = this.logs;
    this.logs = [];
    const next = this.runs[0];
    if (next && !this.dead) this.begin(next);
    else this.runStartedAt = undefined;
    pending.resolve({ ...reply, logs });
  }

  /** Ends the running run with `error` and hands back the ones queued behind it, unstarted. */
  private endRuns(error: FunctionError): void {
    const startedAt = this.runStartedAt ?? performance.now();
    this.settle({ kind: 'function-error', error, initMs: undefined, durationMs: performance.now() - startedAt, heapUsedMb: undefined });
    this.handBackQueued();
  }

  private handBackQueued(): void {
    for (const pending of this.runs.splice(0)) {
      clearTimeout(pending.timer);
      pending.resolve({ kind: 'not-started', logs: [] });
    }
  }

  /** Init failed: the run gets the error, the runs behind it go elsewhere, the thread ends. */
  private discard(reply: ThreadReply): void {
    this.dead = true;
    this.settle(reply);
    this.handBackQueued();
    void this.worker.terminate();
    this.onDeath(this);
  }

  private timeOut(): void {
    const current = this.runs[0];
    if (!current) return;
    // terminate() stops even a CPU-bound loop; the environment is replaced on the next call.
    this.dead = true;
    this.endRuns(timeoutError(current.requestId, this.fn.timeoutMs));
    void this.worker.terminate();
    this.onDeath(this);
  }

  private die(error: FunctionError | undefined, exitCode?: number): void {
    const current = this.runs[0];
    const wasDead = this.dead;
    this.dead = true;
    if (current) {
      const reason = error ?? runtimeExitError(current.requestId, `with error: exit status ${exitCode ?? 0}`);
      if (error?.errorType === 'Error' && /ERR_WORKER_OUT_OF_MEMORY|out of memory/i.test(error.errorMessage)) {
        reason.errorType = 'Runtime.OutOfMemory';
        reason.errorMessage = `RequestId: ${current.requestId} Error: Runtime exited with error: out of memory (memorySize ${this.fn.config.memorySize} MB)`;
      }
      this.endRuns(reason);
      this.onDeath(this);
    } else if (!wasDead) {
      // Died between runs: a late timer threw. Blame the run that left it behind.
      this.onDeath(this, error ? { requestId: this.lastRequestId, error } : undefined);
    }
  }
}
