import type { FunctionError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import type { ThreadReply } from './thread-protocol';

/** A run the environment's owner ended itself: it timed out, or its environment died during it. */
export type EndedRun = { kind: 'function-error'; error: FunctionError; initMs: undefined; durationMs: number; memoryUsedMb: undefined };

/**
 * What one run in an environment produced, with its log lines. `errorBody`: the error document
 * exactly as a process runtime posted it (Lambda answers it verbatim). `not-started`: it waited
 * behind a run that killed the environment, so it never began and can run elsewhere.
 */
export type RunReply = (ThreadReply | EndedRun | { kind: 'not-started' }) & { logs: string[]; errorBody?: string };

/** One invocation as an environment takes it. */
export interface RunRequest {
  requestId: string;
  payload: string;
  clientContext: string | undefined;
  traceId: string;
}

/** A mark to measure how busy an environment was since; opaque to the executor. */
export type BusyMark = unknown;

/** Told when an environment dies; `lateError` when it died between runs, blaming the last one. */
export type OnEnvironmentDeath = (env: ExecutionEnvironment, lateError?: { requestId: string | undefined; error: FunctionError }) => void;

/**
 * One execution environment, as the executor pools it: a worker thread (`Environment`) or a
 * process on Lambda's Runtime API (`ProcessEnvironment`). It belongs to one function version and
 * runs one invocation at a time; runs handed to it while one runs wait in order.
 */
export interface ExecutionEnvironment {
  readonly fn: ResolvedFunction;
  lastUsedAt: number;
  /** Recent runs' duration (a moving average), in ms; undefined before the first. */
  readonly recentRunMs: number | undefined;
  readonly isDead: boolean;
  /** True while a run is in the runtime's hands, unanswered (it may be waiting on I/O). */
  readonly inRun: boolean;
  /** Runs handed over and not answered yet, the running one included. */
  readonly outstanding: number;
  /** True once the handler is loaded: a queued run then waits only for runs, not init. */
  readonly isWarm: boolean;
  busyMark(): BusyMark;
  /** Share of time since `mark` the environment spent computing: near 1 busy, near 0 waiting. */
  busySince(mark: BusyMark): number;
  /** True when one run has been in the runtime's hands all the time since `mark`, the same run then as now. */
  inOneRunSince(mark: BusyMark): boolean;
  run(request: RunRequest): Promise<RunReply>;
  terminate(): Promise<unknown>;
}

/** An environment's recent run time: a moving average, so one slow run does not decide alone. */
export function nextRecentRunMs(recentRunMs: number | undefined, durationMs: number): number {
  return recentRunMs === undefined ? durationMs : 0.8 * recentRunMs + 0.2 * durationMs;
}
