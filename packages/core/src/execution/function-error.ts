import type { FunctionError } from '../errors';

/** Frames of invoq's own runtime say nothing to the function's author. */
const RUNTIME_FRAME = /[\\/]execution[\\/]environment-thread\.js/;

/** Lambda's Node.js runtime error shape for anything a handler throws. */
export function toFunctionError(value: unknown): FunctionError {
  if (value instanceof Error || (typeof value === 'object' && value !== null && 'message' in value)) {
    const err = value as Error;
    const errorType = typeof err.name === 'string' && err.name !== 'Error' ? err.name : err.constructor?.name ?? 'Error';
    return {
      errorType,
      errorMessage: String(err.message),
      trace: typeof err.stack === 'string' ? err.stack.split('\n').filter((line) => !RUNTIME_FRAME.test(line)) : [],
    };
  }
  return { errorType: typeof value, errorMessage: String(value), trace: [] };
}

export function timeoutError(requestId: string, timeoutMs: number): FunctionError {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
    trace: [],
  };
}

export function runtimeExitError(requestId: string, detail: string): FunctionError {
  return { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: Runtime exited ${detail}`, trace: [] };
}
