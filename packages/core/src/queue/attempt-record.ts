import type { DeadLetterReason } from '../policy/retry-policy';

/**
 * One failed attempt, as stored with the job. The worker throws an error whose `stack` is this
 * record in JSON, so BullMQ writes it into the job's `stacktrace` list in the same script that
 * moves the job to delayed or failed: the history costs no extra Redis write.
 */
export interface AttemptRecord {
  attempt: number;
  startedAt: number;
  finishedAt: number;
  outcome: 'error' | 'timeout';
  error: { errorType: string; errorMessage: string };
  /** Set on the attempt after which the event was dead-lettered. */
  deadLetterReason?: DeadLetterReason;
}

/** The `failedReason` BullMQ writes when a job stalled more times than allowed. */
const STALLED_TOO_OFTEN = /stalled more than allowable limit/;

export function parseAttemptRecords(stacktrace: readonly string[] | null | undefined): AttemptRecord[] {
  const records: AttemptRecord[] = [];
  for (const entry of stacktrace ?? []) {
    try {
      const parsed = JSON.parse(entry) as Partial<AttemptRecord>;
      if (typeof parsed.attempt === 'number' && parsed.error) records.push(parsed as AttemptRecord);
    } catch {
      // Not ours (BullMQ's own stack text): skip.
    }
  }
  return records;
}

/** Why a failed job is in the dead-letter queue, read from its last record or BullMQ's reason. */
export function deadLetterReasonOf(records: readonly AttemptRecord[], failedReason: string | undefined): DeadLetterReason {
  if (failedReason && STALLED_TOO_OFTEN.test(failedReason)) return 'WorkerLost';
  return records.at(-1)?.deadLetterReason ?? 'RetriesExhausted';
}
