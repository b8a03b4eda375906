import type { InvocationOutcome } from '../execution/invocation';
import { frameRunLog } from '../execution/log-tail';
import type { ResolvedFunction } from '../functions/resolved-function';
import type { Logger } from './logger';

/**
 * One service-log line per invocation (or attempt): who ran, how it ended, how long it took,
 * and, when the function printed anything or failed, its lines framed as Lambda frames them.
 * Never the payload or the result.
 */
export function logInvocation(logger: Logger, fn: ResolvedFunction, outcome: InvocationOutcome, fields: { type: 'sync' | 'async'; attempt?: number }): void {
  const error = outcome.functionError;
  const entry: Record<string, unknown> = {
    requestId: outcome.requestId,
    functionName: fn.name,
    // Lambda's ExecutedVersion: which version of a deployed function ran.
    functionVersion: fn.version,
    traceId: outcome.traceId,
    ...fields,
    outcome: error ? error.errorType : 'success',
    durationMs: Math.round(outcome.durationMs * 100) / 100,
  };
  if (outcome.logs.length > 0 || error) entry.log = frameRunLog(outcome, fn.config.memorySize);
  logger.info(entry, 'invocation');
}
