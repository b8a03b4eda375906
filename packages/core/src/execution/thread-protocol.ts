import type { MessagePort } from 'node:worker_threads';
import type { FunctionError } from '../errors';

/**
 * What an environment thread needs to know about its function; fixed for the thread's life.
 * Function code can read it (`require('worker_threads').workerData`), so it holds nothing that
 * would let a function speak for the runtime: that is in `RuntimeChannel`.
 */
export interface ThreadData {
  functionName: string;
  functionVersion: string;
  functionArn: string;
  handlerFile: string;
  /** Where the handler is in the module: `handler`, or a nested `a.b.handler`. */
  handlerPath: string;
  /** `function.json`'s `handler`, as error messages quote it. */
  handlerSetting: string;
  memorySizeMb: number;
  /** The environment's `AWS_LAMBDA_LOG_STREAM_NAME`, also `context.logStreamName`. */
  logStreamName: string;
}

/**
 * The runtime's own line to the main thread, passed in `workerData.runtime` and taken out of it
 * by the thread before any function code loads. Replies go over `port`, never over the thread's
 * `parentPort`, which the thread hides from function code; a message on `parentPort` is refused.
 */
export interface RuntimeChannel {
  port: MessagePort;
  /** `CONTROL_SLOTS` Int32s shared with the main thread (see `Control`). */
  control: SharedArrayBuffer;
}

export type ThreadWorkerData = ThreadData & { runtime?: RuntimeChannel };

/** Slots of `RuntimeChannel.control`. */
export const Control = {
  /**
   * 1 while a run is in the thread's hands, 0 just before it replies, so the main thread can
   * tell "waiting on I/O" from "replied, reply not yet handled".
   */
  IN_RUN: 0,
  /**
   * Why the thread ended itself, written just before it exits (an exit can overtake the
   * messages sent before it; this cannot): 0, `END_SIGNAL` or `END_OUT_OF_MEMORY`.
   */
  END_REASON: 1,
  /** The signal's number, or the MB in use. */
  END_DETAIL: 2,
  /**
   * Runs the thread has begun, counted up just before `IN_RUN` goes to 1: the same count and
   * `IN_RUN` 1 at two moments mean one run held the thread all the time between them.
   */
  RUNS_BEGUN: 3,
} as const;
export const CONTROL_SLOTS = 4;
/** Function code signalled its own process: only its environment ends. */
export const END_SIGNAL = 1;
/** The environment used more memory than `memorySize`. */
export const END_OUT_OF_MEMORY = 2;

/**
 * Main → thread: run one invocation. The payload stays a string; the thread parses it. Sent
 * while another runs, it waits its turn in the thread.
 */
export interface InvokeMessage {
  requestId: string;
  /**
   * Unguessable and new for each run; the thread's runtime keeps it where function code cannot
   * read it, and every answer for the run carries it. An answer without it is refused.
   */
  token: string;
  payload: string;
  /** The function's timeout; `getRemainingTimeInMillis()` counts down from it once the handler starts. */
  timeoutMs: number;
  /** Decoded `X-Amz-Client-Context` JSON text, sync only. */
  clientContext: string | undefined;
  /** `_X_AMZN_TRACE_ID` for this invocation. */
  traceId: string;
}

/**
 * Thread → main: how the invocation ended. The result is already serialised in the thread.
 * `memoryUsedMb`: the V8 heap plus memory outside it (Buffers, ArrayBuffers) when it answered.
 */
export type ThreadReply =
  | { kind: 'result'; token: string; body: string; initMs: number | undefined; durationMs: number; memoryUsedMb: number }
  | {
      kind: 'function-error';
      token: string;
      error: FunctionError;
      initMs: number | undefined;
      durationMs: number;
      memoryUsedMb: number;
      /** Init failed: the next cold start must import the module afresh, in a new environment. */
      discardEnvironment?: true;
    }
  | { kind: 'invalid-payload'; token: string; message: string };

/**
 * Thread → main: one line the function logged, sent as it is written, so the lines of a run
 * that times out or crashes are not lost with its thread.
 */
export interface LogLine {
  kind: 'log';
  line: string;
}

/**
 * Thread → main, on a cold start only: the handler module is loaded. The function's timeout
 * runs from here, as in Lambda, where init has its own limit.
 */
export interface InitDone {
  kind: 'init-done';
  token: string;
}

export type ThreadMessage = ThreadReply | LogLine | InitDone;

/** How long loading a handler module may take (Lambda's init phase limit). */
export const INIT_TIMEOUT_MS = 10_000;

/** Lines kept per run; past it the rest are dropped with one notice. */
export const MAX_LOG_LINES_PER_RUN = 10_000;

/** Longest log line kept, in characters (CloudWatch Logs' 256 KB event); longer ones are cut. */
export const MAX_LOG_LINE_CHARS = 262_144;

/** Log text kept per run, in characters; past it the rest is dropped with one notice. */
export const MAX_LOG_CHARS_PER_RUN = 4_194_304;

/** Lambda's limit on a sync response: 6 MiB + 100 bytes, as the runtime enforces it. */
export const MAX_RESPONSE_BYTES = 6_291_556;

/** True when `body` is over `MAX_RESPONSE_BYTES` in UTF-8; counts bytes only for long bodies. */
export function exceedsResponseLimit(body: string): boolean {
  // A UTF-16 unit is at most 3 bytes of UTF-8, so a short body needs no counting.
  return body.length * 3 > MAX_RESPONSE_BYTES && Buffer.byteLength(body) > MAX_RESPONSE_BYTES;
}
