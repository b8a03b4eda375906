import type { InvocationOutcome } from './invocation';

/** Lambda returns at most the last 4 KB of a run's log for `X-Amz-Log-Type: Tail`. */
export const LOG_TAIL_BYTES = 4096;

/** A run's log as Lambda frames it: START, the function's own lines, END, REPORT. */
export function frameRunLog(outcome: InvocationOutcome, memorySizeMb: number): string[] {
  const ms = (n: number) => n.toFixed(2);
  const report =
    `REPORT RequestId: ${outcome.requestId}\tDuration: ${ms(outcome.durationMs)} ms\tBilled Duration: ${Math.ceil(outcome.durationMs)} ms\t` +
    `Memory Size: ${memorySizeMb} MB\tMax Memory Used: ${outcome.maxMemoryUsedMb ?? 0} MB\t` +
    (outcome.initDurationMs !== undefined ? `Init Duration: ${ms(outcome.initDurationMs)} ms\t` : '');
  return [`START RequestId: ${outcome.requestId} Version: $LATEST`, ...outcome.logs, `END RequestId: ${outcome.requestId}`, report];
}

/** The last 4 KB of the framed log, base64-encoded, for `X-Amz-Log-Result`. */
export function formatLogTail(outcome: InvocationOutcome, memorySizeMb: number): string {
  const bytes = Buffer.from(frameRunLog(outcome, memorySizeMb).join('\n') + '\n');
  return bytes.subarray(Math.max(0, bytes.length - LOG_TAIL_BYTES)).toString('base64');
}
