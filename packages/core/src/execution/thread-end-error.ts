import type { FunctionError } from '../errors';
import { outOfMemoryError, runtimeExitError, signalExitError } from './function-error';
import { Control, END_OUT_OF_MEMORY, END_SIGNAL } from './thread-protocol';

/**
 * Why an environment's thread went, as the run in it is told: what the thread wrote in
 * `control` before ending itself (a signal to its own process, memory past `memorySize`), else
 * the error it died of (V8's heap limit is `Runtime.OutOfMemory` too), else its exit code.
 */
export function threadEndError(
  control: Int32Array,
  requestId: string,
  memorySizeMb: number,
  error: FunctionError | undefined,
  exitCode: number | undefined,
): FunctionError {
  const detail = Atomics.load(control, Control.END_DETAIL);
  switch (Atomics.load(control, Control.END_REASON)) {
    case END_SIGNAL:
      return signalExitError(requestId, detail);
    case END_OUT_OF_MEMORY:
      return outOfMemoryError(requestId, memorySizeMb, detail);
  }
  if (error?.errorType === 'Error' && /ERR_WORKER_OUT_OF_MEMORY|out of memory/i.test(error.errorMessage)) {
    return outOfMemoryError(requestId, memorySizeMb);
  }
  return error ?? runtimeExitError(requestId, `with error: exit status ${exitCode ?? 0}`);
}
