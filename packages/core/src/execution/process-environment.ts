import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import type { FunctionError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import { nextRecentRunMs, type BusyMark, type ExecutionEnvironment, type OnEnvironmentDeath, type RunReply, type RunRequest } from './execution-environment';
import { outOfMemoryError, postedFunctionError, runtimeExitError, timeoutError } from './function-error';
import { newLogStreamName } from './lambda-environment';
import { RunLogs } from './log-budget';
import { LaunchError, planLaunch } from './process-launch';
import { RuntimeProcessMeter, type ProcessBusyMark } from './process-stats';
import { sessionAuthorizer } from './runtime-api-peer';
import { RuntimeApiServer, type RuntimeInitError, type RuntimeOutcome } from './runtime-api-server';
import type { Sandbox } from './sandbox';
import { INIT_TIMEOUT_MS } from './thread-protocol';

export interface ProcessEnvironmentSettings {
  region: string;
  sandbox: Sandbox;
}

/** `busyMark` of a process: its CPU time and the invocations delivered to it. */
interface ProcessEnvironmentBusyMark {
  cpu: ProcessBusyMark;
  deliveries: number;
}

interface PendingRun {
  request: RunRequest;
  resolve: (reply: RunReply) => void;
}

/** How often a run's memory is looked at: a process over `memorySize` is killed within this. */
const MEMORY_CHECK_MS = 100;
/** How long after the process exits its output may still arrive (from pipes it shared with what it started). */
const OUTPUT_DRAIN_MS = 100;

/**
 * One execution environment that is a process: invoq's Python or Node runtime client, or a
 * custom runtime's `bootstrap`, polling its own Runtime API server (one per environment, on
 * loopback, answering only processes of this environment's session). Its stdout and stderr
 * lines are the function's log. On timeout or crash its process group is killed and it is never
 * reused; the next call gets a fresh process.
 */
export class ProcessEnvironment implements ExecutionEnvironment {
  readonly fn: ResolvedFunction;
  lastUsedAt = Date.now();
  /** When the current run was handed over (then delivered); its duration is measured from it. */
  private runStartedAt: number | undefined;
  recentRunMs: number | undefined;
  private readonly runs: PendingRun[] = [];
  private readonly logs = new RunLogs();
  private lastRequestId: string | undefined;
  private dead = false;
  private initialized = false;
  /** The current run's handler started (its invocation was delivered) and has not answered. */
  private delivered = false;
  /** Invocations delivered to the runtime so far. */
  private deliveries = 0;
  private timer: NodeJS.Timeout | undefined;
  private memoryTimer: NodeJS.Timeout | undefined;
  private readonly spawnedAt = performance.now();
  private initMs: number | undefined;
  private server: RuntimeApiServer | undefined;
  private child: ChildProcess | undefined;
  private readonly meter: RuntimeProcessMeter;
  private tmpDir: string | undefined;
  private readonly ready: Promise<void>;
  private readonly exited: Promise<void>;
  private markExited!: () => void;

  constructor(
    fn: ResolvedFunction,
    private readonly settings: ProcessEnvironmentSettings,
    private readonly onDeath: OnEnvironmentDeath,
  ) {
    this.fn = fn;
    this.meter = new RuntimeProcessMeter(() => this.child?.pid, settings.sandbox.kind !== 'none');
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    this.ready = this.start();
    // A launch that fails is reported to the run that waits for it (begin), not as unhandled.
    this.ready.catch(() => undefined);
  }

  private async start(): Promise<void> {
    // Only processes of this environment's session may use its Runtime API (see runtime-api-peer.ts).
    const server = await RuntimeApiServer.start({
      onDelivered: () => this.onDelivered(),
      authorize: sessionAuthorizer(() => this.child?.pid, { likelyHolders: () => this.meter.runtimeProcesses() }),
    });
    this.server = server;
    if (this.dead) {
      void server.close();
      return;
    }
    const launch = planLaunch(this.fn, {
      sandbox: this.settings.sandbox,
      runtimeApi: server.address,
      region: this.settings.region,
      logStreamName: newLogStreamName(),
    });
    this.tmpDir = launch.tmpDir;
    const child = spawn(launch.command, launch.args, { cwd: launch.cwd, env: launch.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const outputEnded = [child.stdout!, child.stderr!].map((stream) => {
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on('line', (line) => this.log(line));
      return new Promise<void>((resolve) => lines.once('close', resolve));
    });
    child.on('error', (err) => this.crashed(runtimeExitError(this.blame(), `with error: ${err.message}`)));
    child.on('exit', (code, signal) => {
      // The private TMPDIR goes before `exited` resolves, so a terminate() (a shutdown) leaves none behind.
      void this.cleanUp().then(this.markExited);
      const error = runtimeExitError(
        this.blame(),
        code !== null ? `with error: exit status ${code}` : `with error: signal: ${signal === 'SIGKILL' ? 'killed' : signal}`,
      );
      // Its last lines may still be in the pipes; a process it left behind may hold them open, so not for long.
      const drained = setTimeout(() => this.crashed(error), OUTPUT_DRAIN_MS);
      void Promise.all(outputEnded).then(() => (clearTimeout(drained), this.crashed(error)));
    });
    void server.initError.then((initError) => this.initFailed(initError));
  }

  get isDead(): boolean {
    return this.dead;
  }

  get inRun(): boolean {
    return this.delivered;
  }

  get outstanding(): number {
    return this.runs.length;
  }

  get isWarm(): boolean {
    return this.initialized;
  }

  busyMark(): BusyMark {
    return { cpu: this.meter.busyMark(), deliveries: this.deliveries } satisfies ProcessEnvironmentBusyMark;
  }

  busySince(mark: BusyMark): number {
    return this.meter.busySince((mark as ProcessEnvironmentBusyMark).cpu, this.initialized);
  }

  inOneRunSince(mark: BusyMark): boolean {
    return this.delivered && this.deliveries === (mark as ProcessEnvironmentBusyMark).deliveries;
  }

  run(request: RunRequest): Promise<RunReply> {
    if (this.dead) throw new Error(`environment of ${this.fn.name} is dead`);
    return new Promise((resolve) => {
      this.runs.push({ request, resolve });
      if (this.runs.length === 1) void this.begin();
    });
  }

  /** The first run in line goes to the runtime; it must ask for it (`next`) within the init limit. */
  private async begin(): Promise<void> {
    const pending = this.runs[0];
    if (!pending) return;
    this.lastRequestId = pending.request.requestId;
    this.runStartedAt = performance.now();
    this.arm(INIT_TIMEOUT_MS + (this.initialized ? 0 : this.fn.timeoutMs));
    try {
      await this.ready;
    } catch (e) {
      return this.failToStart(e);
    }
    if (this.dead || this.runs[0] !== pending) return;
    const { request } = pending;
    let outcome: RuntimeOutcome;
    try {
      outcome = await this.server!.invoke({
        requestId: request.requestId,
        payload: request.payload,
        timeoutMs: this.fn.timeoutMs,
        invokedFunctionArn: this.fn.version === '$LATEST' ? this.fn.arn : `${this.fn.arn}:${this.fn.version}`,
        traceId: request.traceId,
        clientContext: request.clientContext,
      });
    } catch {
      return; // the server closed: the environment ended, and said why
    }
    // Lines written before the answer are already in the pipes; let them be read first.
    setImmediate(() => this.answered(outcome));
  }

  private failToStart(e: unknown): void {
    const error: FunctionError =
      e instanceof LaunchError
        ? { errorType: e.errorType, errorMessage: `RequestId: ${this.blame()} Error: ${e.message}`, trace: [] }
        : runtimeExitError(this.blame(), `with error: ${(e as Error).message}`);
    this.log(`${error.errorType}: ${error.errorMessage}`);
    this.discard({ kind: 'function-error', error, initMs: undefined, durationMs: 0, memoryUsedMb: undefined, logs: [] });
  }

  private onDelivered(): void {
    if (!this.initialized) {
      this.initialized = true;
      this.initMs = performance.now() - this.spawnedAt;
    }
    this.delivered = true;
    this.deliveries += 1;
    this.runStartedAt = performance.now();
    this.arm(this.fn.timeoutMs);
    this.watchMemory();
  }

  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.timeOut(), ms);
  }

  private watchMemory(): void {
    clearInterval(this.memoryTimer);
    this.memoryTimer = setInterval(() => {
      const memory = this.meter.memory();
      if (memory && memory.nowMb > this.fn.config.memorySize) {
        this.kill(outOfMemoryError(this.blame(), this.fn.config.memorySize, memory.nowMb));
      }
    }, MEMORY_CHECK_MS);
    this.memoryTimer.unref();
  }

  private answered(outcome: RuntimeOutcome): void {
    if (this.dead && this.runs.length === 0) return;
    const memoryUsedMb = this.meter.memory(MEMORY_CHECK_MS)?.peakMb ?? 0;
    const initMs = this.takeInitMs();
    const durationMs = performance.now() - (this.runStartedAt ?? performance.now());
    if (outcome.kind === 'response') {
      this.settle({ kind: 'result', token: '', body: outcome.body.toString('utf8'), initMs, durationMs, memoryUsedMb, logs: [] });
    } else {
      const error = postedFunctionError(outcome.errorType, outcome.body);
      this.settle({ kind: 'function-error', token: '', error, initMs, durationMs, memoryUsedMb, logs: [], errorBody: outcome.body.toString('utf8') });
    }
  }

  /** The init duration goes with the first run only. */
  private takeInitMs(): number | undefined {
    const initMs = this.initMs;
    this.initMs = undefined;
    return initMs;
  }

  private settle(reply: RunReply): void {
    const pending = this.runs.shift();
    if (!pending) return;
    clearTimeout(this.timer);
    clearInterval(this.memoryTimer);
    this.delivered = false;
    this.lastUsedAt = Date.now();
    if (reply.kind !== 'not-started' && reply.kind !== 'invalid-payload') {
      this.recentRunMs = nextRecentRunMs(this.recentRunMs, reply.durationMs);
    }
    const logs = this.logs.take();
    this.runStartedAt = undefined;
    pending.resolve({ ...reply, logs });
    if (this.runs.length > 0 && !this.dead) void this.begin();
  }

  private log(line: string): void {
    this.logs.add(line, this.runs[0]?.request.requestId ?? this.lastRequestId);
  }

  private blame(): string {
    return this.runs[0]?.request.requestId ?? this.lastRequestId ?? 'unknown';
  }

  /** The runtime posted /runtime/init/error: the run gets its error document, the environment ends. */
  private initFailed(initError: RuntimeInitError): void {
    if (this.dead) return;
    const error = postedFunctionError(initError.errorType === 'Runtime.Unknown' ? 'Runtime.InitError' : initError.errorType, initError.body);
    const errorBody = initError.body.length > 0 ? initError.body.toString('utf8') : undefined;
    // The runtime printed why before it posted; give its lines a moment to arrive.
    const initMs = this.takeInitMs() ?? performance.now() - this.spawnedAt;
    setImmediate(() => this.discard({ kind: 'function-error', token: '', error, initMs, durationMs: 0, memoryUsedMb: 0, logs: [], errorBody }));
  }

  /** The run in flight gets `reply`, the ones behind it go elsewhere, the process ends. */
  private discard(reply: RunReply): void {
    if (this.runs.length === 0 && this.dead) return;
    this.dead = true;
    this.settle(reply);
    this.handBackQueued();
    this.stop();
    this.onDeath(this);
  }

  private handBackQueued(): void {
    for (const pending of this.runs.splice(0)) pending.resolve({ kind: 'not-started', logs: [] });
  }

  private timeOut(): void {
    if (this.runs.length === 0) return;
    this.kill(timeoutError(this.blame(), this.fn.timeoutMs));
  }

  /** Ends the run in flight with `error`, and the environment with it. */
  private kill(error: FunctionError): void {
    if (this.dead) return;
    const durationMs = performance.now() - (this.runStartedAt ?? performance.now());
    this.discard({ kind: 'function-error', token: '', error, initMs: this.takeInitMs(), durationMs, memoryUsedMb: 0, logs: [] });
  }

  /** The process went (or never started) without being told to. */
  private crashed(error: FunctionError): void {
    if (this.dead) return;
    if (this.runs.length > 0) return this.kill(error);
    this.dead = true;
    this.stop();
    this.onDeath(this, { requestId: this.lastRequestId, error });
  }

  /** Kills the whole process group (the runtime and whatever it started) and closes the server. */
  private stop(): void {
    clearTimeout(this.timer);
    clearInterval(this.memoryTimer);
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null && this.child.signalCode === null) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    void this.server?.close();
    if (!this.child) this.markExited();
  }

  private async cleanUp(): Promise<void> {
    const tmpDir = this.tmpDir;
    this.tmpDir = undefined;
    if (tmpDir) await fs.promises.rm(tmpDir, { recursive: true, force: true }).catch(() => undefined);
  }

  async terminate(): Promise<void> {
    this.dead = true;
    this.handBackQueued();
    await this.ready.catch(() => undefined);
    this.stop();
    await this.exited;
  }
}
