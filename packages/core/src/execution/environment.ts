import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { FunctionError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import {
  nextRecentRunMs,
  type BusyMark,
  type EndedRun,
  type ExecutionEnvironment,
  type OnEnvironmentDeath,
  type RunReply,
  type RunRequest,
} from './execution-environment';
import { invalidReplyError, responseTooLargeError, timeoutError, toFunctionError } from './function-error';
import { lambdaEnvironment, newLogStreamName } from './lambda-environment';
import { RunLogs } from './log-budget';
import { threadEndError } from './thread-end-error';
import { refusalOf } from './thread-message-check';
import {
  CONTROL_SLOTS,
  Control,
  INIT_TIMEOUT_MS,
  MAX_RESPONSE_BYTES,
  exceedsResponseLimit,
  type InvokeMessage,
  type ThreadMessage,
  type ThreadReply,
  type ThreadWorkerData,
} from './thread-protocol';

/** `busyMark` of a thread: its event-loop utilisation and the runs it had begun. */
interface ThreadBusyMark {
  utilization: EventLoopUtilization;
  runsBegun: number;
}

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
  /** The thread's entry module; default invoq's runtime (tests give one that misbehaves). */
  threadEntry?: string;
}

interface PendingRun {
  requestId: string;
  /** The run's token: its answer must carry it. */
  token: string;
  resolve: (reply: RunReply) => void;
  /** Armed when the run reaches the thread's front (the runs before it have answered). */
  timer: NodeJS.Timeout | undefined;
}

/**
 * One execution environment: a worker thread that belongs to one function and runs one
 * invocation at a time. Runs posted while one is running wait in order in the thread (the
 * executor queues a few behind short runs). On timeout or crash it dies and is never reused.
 */
export class Environment implements ExecutionEnvironment {
  readonly fn: ResolvedFunction;
  lastUsedAt = Date.now();
  /**
   * performance.now() when the main thread saw the current run's handler start (on a cold
   * start, when init ended); undefined while idle. The run's duration if it has to be ended here.
   */
  private runStartedAt: number | undefined;
  /** Recent runs' duration in the thread (a moving average), in ms; undefined before the first. */
  recentRunMs: number | undefined;
  private readonly worker: Worker;
  /** The runtime's channel (the thread's `parentPort` is not used, and refused). */
  private readonly port: MessagePort;
  /** Posted runs not answered yet, oldest first; the first is the one running. */
  private readonly runs: PendingRun[] = [];
  /** Runs handed over in this turn of the event loop, posted together when it ends (`postRuns`). */
  private unposted: InvokeMessage[] = [];
  /** Lines since the last run ended; lines logged between runs (a late timer) go to the next. */
  private readonly logs = new RunLogs();
  private lastRequestId: string | undefined;
  private dead = false;
  /** The handler module is loaded (after the first run's init-done). */
  private initialized = false;
  /**
   * Tokens are this secret prefix and a count: unguessable without the prefix, which only the
   * runtime's channel carries, and cheaper than a random UUID per run (~0.3 µs, measured).
   */
  private readonly tokenPrefix = randomBytes(16).toString('base64url');
  private runCount = 0;
  /** Shared with the thread: see `Control`. */
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));

  constructor(
    fn: ResolvedFunction,
    settings: EnvironmentSettings,
    private readonly onDeath: OnEnvironmentDeath,
  ) {
    this.fn = fn;
    const logStreamName = newLogStreamName();
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const data: ThreadWorkerData = {
      functionName: fn.name,
      functionVersion: fn.version,
      // The ARN the caller used: a version's carries its number (an alias's is not kept apart).
      functionArn: fn.version === '$LATEST' ? fn.arn : `${fn.arn}:${fn.version}`,
      handlerFile: fn.handlerFile!,
      handlerPath: fn.handlerExport!,
      handlerSetting: fn.config.handler ?? '',
      memorySizeMb: fn.config.memorySize,
      logStreamName,
      runtime: { port: port2, control: this.control.buffer as SharedArrayBuffer },
    };
    // The function's environment and Lambda's variables; the service's own never (but the
    // process's initial environment stays readable in /proc/self/environ: see docs/functions.md).
    const variables = lambdaEnvironment(fn, { region: settings.region, logStreamName, runtimeDir: path.dirname(THREAD_ENTRY), serviceEnv: process.env });
    this.worker = new Worker(settings.threadEntry ?? THREAD_ENTRY, {
      workerData: data,
      transferList: [port2],
      env: variables,
      resourceLimits: { maxOldGenerationSizeMb: fn.config.memorySize },
      stdout: false,
      stderr: false,
    });
    this.port.on('message', (message: unknown) => this.receiveAll(message));
    // The runtime never writes to parentPort (it hides it from function code): whatever comes
    // there was sent by function code that found it anyway.
    this.worker.on('message', () => this.refuse('a message on the thread’s parentPort'));
    this.worker.on('error', (err) => this.ended(() => this.die(toFunctionError(err))));
    this.worker.on('exit', (code) => this.ended(() => this.die(undefined, code)));
  }

  /**
   * Handles `first` and every message queued behind it in one go. Node.js would otherwise hand
   * over each in a callback of its own, and what the answers lead to (the jobs' completions
   * written to Redis, the next runs posted) would go out one by one, a turn each.
   */
  private receiveAll(first: unknown): void {
    this.receive(first);
    for (let next = receiveMessageOnPort(this.port); next; next = receiveMessageOnPort(this.port)) this.receive(next.message);
  }

  /** Handles one message from the thread's runtime, after checking it. */
  private receive(raw: unknown): void {
    if (this.dead) return;
    const refusal = refusalOf(raw, this.runs[0]?.token);
    if (refusal) return this.refuse(refusal);
    const message = raw as ThreadMessage;
    if (message.kind === 'log') {
      this.logs.add(message.line, this.runs[0]?.requestId ?? this.lastRequestId);
    } else if (message.kind === 'init-done') this.startTimeout();
    else if (message.kind === 'function-error' && message.discardEnvironment) this.discard(message);
    else if (message.kind === 'result' && exceedsResponseLimit(message.body)) this.settle(this.tooLarge(message));
    else this.settle(message);
  }

  /** Lambda's answer to a result over its limit, whoever sent it (the thread checks first). */
  private tooLarge({ token, initMs, durationMs, memoryUsedMb }: ThreadReply & { kind: 'result' }): ThreadReply {
    return { kind: 'function-error', token, error: responseTooLargeError(MAX_RESPONSE_BYTES), initMs, durationMs, memoryUsedMb };
  }

  /**
   * The thread is gone: first the messages it sent before it went (an exit can overtake them on
   * a port of our own, unlike on parentPort, which Node drains), then `end`.
   */
  private ended(end: () => void): void {
    for (let next = receiveMessageOnPort(this.port); next; next = receiveMessageOnPort(this.port)) this.receive(next.message);
    end();
    this.port.close();
  }

  /** The thread sent what its runtime never sends: the run in flight fails, the environment ends. */
  private refuse(reason: string): void {
    if (this.dead) return;
    this.dead = true;
    const current = this.runs[0];
    const error = invalidReplyError(current?.requestId ?? this.lastRequestId ?? 'unknown', reason);
    void this.worker.terminate();
    if (current) {
      this.endRuns(error);
      this.onDeath(this);
    } else {
      this.onDeath(this, { requestId: this.lastRequestId, error });
    }
  }

  get isDead(): boolean {
    return this.dead;
  }

  /** True while the thread holds a run it has not answered yet (it may be waiting on I/O). */
  get inRun(): boolean {
    return Atomics.load(this.control, Control.IN_RUN) === 1;
  }

  /** The thread's event-loop utilisation and runs begun so far; pass it back to `busySince` later. */
  busyMark(): BusyMark {
    return { utilization: this.worker.performance.eventLoopUtilization(), runsBegun: Atomics.load(this.control, Control.RUNS_BEGUN) } satisfies ThreadBusyMark;
  }

  /**
   * Share of time the thread was running code since `mark`: near 1 for CPU work (a cold start,
   * a busy handler), near 0 for a handler waiting on I/O or a timer.
   */
  busySince(mark: BusyMark): number {
    const delta = this.worker.performance.eventLoopUtilization((mark as ThreadBusyMark).utilization);
    // A thread still booting has no event loop yet (0 of 0): it is busy, not waiting.
    return delta.idle + delta.active === 0 ? 1 : delta.utilization;
  }

  /**
   * Read off the environment's thread itself: `runStartedAt` is when the main thread handled the
   * last answer, which under load can be long after it was sent (a flood of no-op runs would
   * look like one long run), and `inRun` alone is one instant.
   */
  inOneRunSince(mark: BusyMark): boolean {
    return this.inRun && Atomics.load(this.control, Control.RUNS_BEGUN) === (mark as ThreadBusyMark).runsBegun;
  }

  /** Runs posted and not answered yet, the running one included. */
  get outstanding(): number {
    return this.runs.length;
  }

  /** True once the handler module has loaded: a queued run then waits only for runs, not init. */
  get isWarm(): boolean {
    return this.initialized;
  }

  run(message: RunRequest): Promise<RunReply> {
    if (this.dead) throw new Error(`environment of ${this.fn.name} is dead`);
    return new Promise((resolve) => {
      this.runCount += 1;
      const token = `${this.tokenPrefix}.${this.runCount}`;
      const pending: PendingRun = { requestId: message.requestId, token, resolve, timer: undefined };
      this.runs.push(pending);
      if (this.runs.length === 1) this.begin(pending);
      if (this.unposted.push({ ...message, token, timeoutMs: this.fn.timeoutMs }) === 1) setImmediate(this.postRuns);
    });
  }

  /**
   * One post for the runs handed over in one turn of the event loop (the events one Redis reply
   * brought, the requests one read brought): a post that wakes the sleeping thread costs the
   * poster 8–10 µs, against about 1.4 µs for one it finds awake. `setImmediate`, not a microtask:
   * BullMQ starts the jobs of one reply a few promise hops apart.
   */
  private readonly postRuns = (): void => {
    const runs = this.unposted;
    this.unposted = [];
    this.port.postMessage(runs.length === 1 ? runs[0] : runs);
  };

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
    // The run proper begins now: the executor must not take a long init for a long run.
    this.runStartedAt = performance.now();
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
      this.recentRunMs = nextRecentRunMs(this.recentRunMs, reply.durationMs);
    }
    const logs = this.logs.take();
    const next = this.runs[0];
    if (next && !this.dead) this.begin(next);
    else this.runStartedAt = undefined;
    pending.resolve({ ...reply, logs });
  }

  /** Ends the running run with `error` and hands back the ones queued behind it, unstarted. */
  private endRuns(error: FunctionError): void {
    const startedAt = this.runStartedAt ?? performance.now();
    this.settle({ kind: 'function-error', error, initMs: undefined, durationMs: performance.now() - startedAt, memoryUsedMb: undefined });
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
    const reason = threadEndError(this.control, current?.requestId ?? this.lastRequestId ?? 'unknown', this.fn.config.memorySize, error, exitCode);
    if (current) {
      this.endRuns(reason);
      this.onDeath(this);
    } else if (!wasDead) {
      // Died between runs: a late timer threw (or signalled, or outgrew memorySize). Blame the
      // run that left it behind; a plain exit code says too little to log.
      const blame = error ?? (Atomics.load(this.control, Control.END_REASON) !== 0 ? reason : undefined);
      this.onDeath(this, blame ? { requestId: this.lastRequestId, error: blame } : undefined);
    }
  }
}
