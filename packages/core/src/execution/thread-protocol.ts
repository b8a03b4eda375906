import type { FunctionError } from '../errors';

/** What an environment thread needs to know about its function; fixed for the thread's life. */
export interface ThreadData {
  functionName: string;
  functionArn: string;
  handlerFile: string;
  handlerExport: string;
  memorySizeMb: number;
}

/** Main → thread: run one invocation. The payload stays a string; the thread parses it. */
export interface InvokeMessage {
  requestId: string;
  payload: string;
  /** Epoch ms at which the run is killed; `getRemainingTimeInMillis()` counts down to it. */
  deadline: number;
  /** Decoded `X-Amz-Client-Context` JSON text, sync only. */
  clientContext: string | undefined;
}

/** Thread → main: how the invocation ended. The result is already serialised in the thread. */
export type ThreadReply =
  | { kind: 'result'; body: string; logs: string[]; initMs: number | undefined; heapUsedMb: number }
  | { kind: 'function-error'; error: FunctionError; logs: string[]; initMs: number | undefined; heapUsedMb: number }
  | { kind: 'invalid-payload'; message: string; logs: string[] };

/** Lambda's limit on a sync response: 6 MiB + 100 bytes, as the runtime enforces it. */
export const MAX_RESPONSE_BYTES = 6_291_556;
