import { coerceError, type FunctionError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import type { InvocationOutcome, InvocationRequest } from './invocation';
import { timeoutError } from './function-error';

/**
 * `"runtime": "http"`: the function's body is a POST of the event to its URL (OpenFaaS style).
 * A 2xx body is the result; anything else is a function error.
 */
export async function invokeHttpFunction(fn: ResolvedFunction, request: InvocationRequest, traceId: string): Promise<InvocationOutcome> {
  const started = performance.now();
  const finish = (body: string, functionError: FunctionError | undefined): InvocationOutcome => ({
    requestId: request.requestId,
    traceId,
    body,
    functionError,
    durationMs: performance.now() - started,
    initDurationMs: undefined,
    maxMemoryUsedMb: undefined,
    logs: [],
  });
  const fail = (error: FunctionError) => finish(JSON.stringify(error), error);
  try {
    const response = await fetch(fn.config.url!, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-amzn-requestid': request.requestId, 'x-amzn-trace-id': traceId },
      body: request.payload.length === 0 ? '{}' : request.payload,
      signal: AbortSignal.timeout(fn.timeoutMs),
    });
    const text = await response.text();
    if (!response.ok) {
      return fail({ errorType: 'Function.UpstreamError', errorMessage: `HTTP ${response.status} from ${fn.name}: ${text.slice(0, 1024)}`, trace: [] });
    }
    try {
      JSON.parse(text);
      return finish(text, undefined);
    } catch {
      return finish(JSON.stringify(text), undefined);
    }
  } catch (e) {
    const err = coerceError(e);
    if (err.name === 'TimeoutError') return fail(timeoutError(request.requestId, fn.timeoutMs));
    return fail({ errorType: 'Function.UpstreamError', errorMessage: `${fn.name}: ${err.message}`, trace: [] });
  }
}
