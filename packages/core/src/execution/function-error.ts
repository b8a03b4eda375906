import os from 'node:os';
import { types } from 'node:util';
import type { FunctionError } from '../errors';

/** Frames of invoq's own runtime say nothing to the function's author. */
const RUNTIME_FRAME = /[\\/]execution[\\/](environment-thread|node-process-runtime|node-handler-contract|handler-module|event-loop-watch)\.js/;

/** Lambda's test for an error: a native one, or anything with string name, message and stack. */
function isErrorLike(value: unknown): value is Error {
  if (types.isNativeError(value)) return true;
  const v = value as { name?: unknown; message?: unknown; stack?: unknown } | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.message === 'string' &&
    typeof v.stack === 'string' &&
    v.name !== '' &&
    v.message !== ''
  );
}

/**
 * Lambda's Node.js runtime error shape for anything a handler throws or fails with
 * (aws-lambda-nodejs-runtime-interface-client: Errors.js `toRapidResponse`): an error's own
 * `name` and `message`, anything else as its type and its string.
 */
export function toFunctionError(value: unknown): FunctionError {
  try {
    if (isErrorLike(value)) {
      return {
        errorType: String(value.name),
        errorMessage: String(value.message),
        trace: typeof value.stack === 'string' ? value.stack.split('\n').filter((line) => !RUNTIME_FRAME.test(line)) : [],
      };
    }
    return { errorType: typeof value, errorMessage: String(value), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
      trace: [],
    };
  }
}

export function timeoutError(requestId: string, timeoutMs: number): FunctionError {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
    trace: [],
  };
}

/** Lambda's error for a result over its sync limit (`MAX_RESPONSE_BYTES`). */
export function responseTooLargeError(maxBytes: number): FunctionError {
  return {
    errorType: 'Function.ResponseSizeTooLarge',
    errorMessage: `Response payload size exceeded maximum allowed payload size (${maxBytes} bytes).`,
    trace: [],
  };
}

export function runtimeExitError(requestId: string, detail: string): FunctionError {
  return { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${requestId} Error: Runtime exited ${detail}`, trace: [] };
}

const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, number]) => [number as number, name]));

/** How Lambda words a runtime killed by a signal (Go's names): `terminated`, `killed`, … */
const SIGNAL_WORDS: Record<string, string> = {
  SIGTERM: 'terminated',
  SIGKILL: 'killed',
  SIGINT: 'interrupt',
  SIGHUP: 'hangup',
  SIGQUIT: 'quit',
  SIGABRT: 'aborted',
  SIGSEGV: 'segmentation fault',
  SIGUSR1: 'user defined signal 1',
  SIGUSR2: 'user defined signal 2',
  SIGPIPE: 'broken pipe',
  SIGALRM: 'alarm clock',
};

/** The function signalled its own process (`process.kill(process.pid, …)`): its runtime "exited". */
export function signalExitError(requestId: string, signal: number): FunctionError {
  const name = SIGNAL_NAMES.get(signal) ?? `signal ${signal}`;
  return runtimeExitError(requestId, `with error: signal: ${SIGNAL_WORDS[name] ?? name}`);
}

/** The environment outgrew `memorySize`: its V8 heap, or the heap and the memory outside it. */
export function outOfMemoryError(requestId: string, memorySizeMb: number, usedMb?: number): FunctionError {
  const used = usedMb === undefined ? '' : `, ${usedMb} MB in use`;
  return {
    errorType: 'Runtime.OutOfMemory',
    errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: out of memory (memorySize ${memorySizeMb} MB${used})`,
    trace: [],
  };
}

/**
 * The thread sent something the runtime never sends (a forged or malformed answer): the run
 * gets this error and the environment ends, since whatever sent it may send more.
 */
export function invalidReplyError(requestId: string, reason: string): FunctionError {
  return {
    errorType: 'Runtime.InvalidReply',
    errorMessage: `RequestId: ${requestId} Error: the execution environment sent a message its runtime did not (${reason}); the environment was ended`,
    trace: [],
  };
}

/** The error document a process runtime posted, read as a FunctionError (its fields may be missing). */
export function postedFunctionError(errorType: string, body: Buffer): FunctionError {
  let document: { errorType?: unknown; errorMessage?: unknown; stackTrace?: unknown; trace?: unknown } = {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null) document = parsed;
  } catch {
    // Not JSON: a custom runtime may post anything; Lambda passes it on as it came.
  }
  const trace = Array.isArray(document.stackTrace) ? document.stackTrace : Array.isArray(document.trace) ? document.trace : [];
  return {
    errorType: typeof document.errorType === 'string' && document.errorType ? document.errorType : errorType,
    errorMessage: typeof document.errorMessage === 'string' ? document.errorMessage : body.toString('utf8'),
    trace: trace.map(String),
  };
}
