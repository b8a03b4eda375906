import type { FunctionError } from '../errors';

/** One invocation as the executor takes it, whichever path (sync, async) it came by. */
export interface InvocationRequest {
  requestId: string;
  /** The request body exactly as received; `''` means `{}`. */
  payload: string;
  /** `X-Amz-Client-Context`, decoded to JSON text. */
  clientContext?: string;
  /** `_X_AMZN_TRACE_ID` for this invocation; a new one when absent. */
  traceId?: string;
  /**
   * Gives the run up if it has not started (has no environment yet) when this aborts: `invoke`
   * then throws `NotStartedError`, and nothing of it ran. A started run is not stopped by it.
   */
  signal?: AbortSignal;
  /** Told when the run must wait for an environment (`onStart` follows once it has one). */
  onWait?: () => void;
  /** Told when the run has its environment (at once for `http` functions), just before it begins. */
  onStart?: () => void;
}

export interface InvocationOutcome {
  requestId: string;
  /** The `_X_AMZN_TRACE_ID` the run saw. */
  traceId: string;
  /** JSON text to answer with: the result, or the error object when `functionError` is set. */
  body: string;
  functionError: FunctionError | undefined;
  durationMs: number;
  initDurationMs: number | undefined;
  maxMemoryUsedMb: number | undefined;
  /** What the function printed, one Lambda-formatted line each. */
  logs: string[];
}
