import type { Job } from 'bullmq';
import type { DeadLetterReason } from '../policy/retry-policy';
import { deadLetterReasonOf, parseAttemptRecords } from './attempt-record';
import type { EventQueues } from './event-queues';
import { isEventJobData } from './job-data';

/** A dead-lettered event as the API shows it. */
export interface DeadLetterEntry {
  requestId: string;
  functionName: string;
  payload: unknown;
  error: { errorType: string; errorMessage: string };
  attempts: number;
  reason: DeadLetterReason;
  receivedAt: string;
  failedAt: string;
}

/**
 * The dead-letter queue is each function's BullMQ `failed` set: the one place a job lands
 * atomically, in the same script as its last failed attempt, so no crash can lose it between
 * "failed" and "dead-lettered". Entries stay for INVOQ_DLQ_RETENTION_SECONDS.
 */
export class DeadLetterStore {
  constructor(private readonly queues: EventQueues, private readonly functionNames: () => string[]) {}

  async list(options: { functionName?: string; limit?: number } = {}): Promise<DeadLetterEntry[]> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const names = options.functionName ? [options.functionName] : this.functionNames();
    const perFunction = await Promise.all(
      names.map(async (name) => {
        const jobs = await this.queues.get(name).getFailed(0, limit - 1);
        return jobs.map((job) => toEntry(name, job));
      }),
    );
    return perFunction
      .flat()
      .sort((a, b) => b.failedAt.localeCompare(a.failedAt))
      .slice(0, limit);
  }

  /** Dead-lettered events of each function, read in one round trip per function. */
  async depth(): Promise<Map<string, number>> {
    const names = this.functionNames();
    const counts = await Promise.all(names.map((name) => this.queues.get(name).getFailedCount()));
    return new Map(names.map((name, i) => [name, counts[i] ?? 0]));
  }
}

export function toEntry(functionName: string, job: Job): DeadLetterEntry {
  const records = parseAttemptRecords(job.stacktrace);
  const last = records.at(-1);
  const data = isEventJobData(job.data) ? job.data : undefined;
  let payload: unknown = null;
  if (data) {
    try {
      payload = data.payload.length === 0 ? {} : JSON.parse(data.payload);
    } catch {
      payload = data.payload;
    }
  }
  return {
    requestId: job.id ?? '',
    functionName,
    payload,
    error: last?.error ?? { errorType: 'Error', errorMessage: job.failedReason ?? '' },
    attempts: job.attemptsMade,
    reason: deadLetterReasonOf(records, job.failedReason),
    receivedAt: new Date(data?.receivedAt ?? job.timestamp).toISOString(),
    failedAt: new Date(job.finishedOn ?? job.timestamp).toISOString(),
  };
}
