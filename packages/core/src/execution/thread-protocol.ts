import type { FunctionError } from '../errors';

/** What an environment thread needs to know about its function; fixed for the thread's life. */
export interface ThreadData {
  functionName: string;
  functionArn: string;
  handlerFile: string;
  /** Where the handler is in the module: `handler`, or a nested `a.b.handler`. */
  handlerPath: string;
  /** `function.json`'s `handler`, as error messages quote it. */
  handlerSetting: string;
  memorySizeMb: number;
  /** The environment's `AWS_LAMBDA_LOG_STREAM_NAME`, also `context.logStreamName`. */
  logStreamName: string;
  /**
   * One Int32 the thread sets to 1 while a run is in its hands and to 0 just before it replies,
   * so the main thread can tell "waiting on I/O" from "replied, reply not yet handled".
   */
  inRunFlag: SharedArrayBuffer;
}

/**
 * Main → thread: run one invocation. The payload stays a string; the thread parses it. Sent
 * while another runs, it waits its turn in the thread.
 */
export interface InvokeMessage {
  requestId: string;
  payload: string;
  /** The function's timeout; `getRemainingTimeInMillis()` counts down from it once the handler starts. */
  timeoutMs: number;
  /** Decoded `X-Amz-Client-Context` JSON text, sync only. */
  clientContext: string | undefined;
  /** `_X_AMZN_TRACE_ID` for this invocation. */
  traceId: string;
}

/** Thread → main: how the invocation ended. The result is already serialised in the thread. */
export type ThreadReply =
  | { kind: 'result'; body: string; initMs: number | undefined; durationMs: number; heapUsedMb: number }
  | {
      kind: 'function-error';
      error: FunctionError;
      initMs: number | undefined;
      durationMs: number;
      heapUsedMb: number;
      /** Init failed: the next cold start must import the module afresh, in a new environment. */
      discardEnvironment?: true;
    }
  | { kind: 'invalid-payload'; message: string };

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
}

export type ThreadMessage = ThreadReply | LogLine | InitDone;

/** How long loading a handler module may take (Lambda's init phase limit). */
export const INIT_TIMEOUT_MS = 10_000;

/** Lines kept per run; past it the rest are dropped with one notice. */
export const MAX_LOG_LINES_PER_RUN = 10_000;

/** Lambda's limit on a sync response: 6 MiB + 100 bytes, as the runtime enforces it. */
export const MAX_RESPONSE_BYTES = 6_291_556;
