import type { Job } from 'bullmq';
import type { DeadLetterReason } from '../policy/retry-policy';
import { deadLetterReasonOf, parseAttemptRecords, type AttemptRecord } from '../queue/attempt-record';
import type { EventQueues } from '../queue/event-queues';
import { isWaitingForEnvironment } from '../worker/environment-wait-mark';
import type { RedisClient } from '../redis/redis-connection';
import { isEventJobData, type EventJobData, type RedriveRecord } from '../queue/job-data';

export type InvocationState = 'queued' | 'running' | 'retrying' | 'succeeded' | 'dead-lettered';

export interface AttemptHistoryEntry {
  attempt: number;
  startedAt: string;
  finishedAt: string | null;
  outcome: 'success' | 'error' | 'timeout' | 'running';
  error?: { errorType: string; errorMessage: string };
}

/** `GET /invocations/{requestId}`: where an event is in its life, from its BullMQ job alone. */
export interface InvocationStatus {
  requestId: string;
  functionName: string;
  status: InvocationState;
  attempts: number;
  history: AttemptHistoryEntry[];
  result?: unknown;
  resultTruncated?: true;
  error?: { errorType: string; errorMessage: string };
  reason?: DeadLetterReason;
  receivedAt: string;
  finishedAt?: string;
  redrives?: RedriveRecord[];
  /**
   * Whether a live worker loads the event's function, i.e. whether a queued event will run. An
   * event stays readable when its function is not loaded (its folder removed, or loaded by the
   * API but by no worker); then this says so, and it waits, or is dead-lettered as
   * FunctionNotFound once past its maximum event age.
   */
  functionLoaded?: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/** The attempt records of the current life of an event (after its last redrive, if any). */
export function currentRecords(job: Job<EventJobData>): AttemptRecord[] {
  const since = job.data.redrives?.at(-1)?.redrivenAt ?? 0;
  return parseAttemptRecords(job.stacktrace).filter((r) => r.startedAt >= since);
}

/**
 * Derives an event's status from what BullMQ already keeps: its state, `attemptsMade`, the
 * attempt records in `stacktrace`, `processedOn`/`finishedOn` and `returnvalue`. Nothing is
 * written on the hot path for it.
 */
export function describeInvocation(functionName: string, job: Job<EventJobData>, state: string): InvocationStatus {
  const records = currentRecords(job);
  const history: AttemptHistoryEntry[] = records.map((r) => ({
    attempt: r.attempt,
    startedAt: iso(r.startedAt),
    finishedAt: iso(r.finishedAt),
    outcome: r.outcome,
    error: r.error,
  }));
  const last = records.at(-1);
  const status: InvocationState =
    state === 'completed' ? 'succeeded' : state === 'failed' ? 'dead-lettered' : state === 'active' ? 'running' : records.length > 0 ? 'retrying' : 'queued';
  if (status === 'running' && job.processedOn) {
    history.push({ attempt: records.length + 1, startedAt: iso(job.processedOn), finishedAt: null, outcome: 'running' });
  }
  if (status === 'succeeded' && job.processedOn) {
    history.push({ attempt: records.length + 1, startedAt: iso(job.processedOn), finishedAt: job.finishedOn ? iso(job.finishedOn) : null, outcome: 'success' });
  }
  const out: InvocationStatus = {
    requestId: job.id ?? '',
    functionName,
    status,
    attempts: history.length,
    history,
    receivedAt: iso(isEventJobData(job.data) ? job.data.receivedAt : job.timestamp),
  };
  if (status === 'succeeded') {
    const value = job.returnvalue as { result?: string; resultTruncated?: true } | null;
    if (value?.resultTruncated) out.resultTruncated = true;
    else if (typeof value?.result === 'string') out.result = resultValue(value.result);
    else out.result = null;
  }
  if ((status === 'dead-lettered' || status === 'retrying') && last) out.error = last.error;
  if (status === 'dead-lettered') {
    out.reason = deadLetterReasonOf(records, job.failedReason);
    out.error ??= { errorType: 'Error', errorMessage: job.failedReason ?? '' };
  }
  if ((status === 'succeeded' || status === 'dead-lettered') && job.finishedOn) out.finishedAt = iso(job.finishedOn);
  if (job.data.redrives?.length) out.redrives = job.data.redrives;
  return out;
}

/** Finds an event by request id among every function's queue (one pipelined read each). */
export class InvocationStatusReader {
  /**
   * @param functionNames - every known queue's function, loaded here or not.
   * @param isFunctionLoaded - whether a live worker loads a function (the status's `functionLoaded`).
   */
  constructor(
    private readonly queues: EventQueues,
    private readonly functionNames: () => string[],
    private readonly isFunctionLoaded?: (functionName: string) => Promise<boolean>,
  ) {}

  async find(requestId: string): Promise<{ functionName: string; job: Job<EventJobData> } | undefined> {
    if (!REQUEST_ID_PATTERN.test(requestId)) return undefined;
    const names = this.functionNames();
    const jobs = await Promise.all(names.map((name) => this.queues.get(name).getJob(requestId) as Promise<Job<EventJobData> | undefined>));
    const index = jobs.findIndex((job) => job !== undefined && isEventJobData(job.data));
    return index < 0 ? undefined : { functionName: names[index]!, job: jobs[index]! };
  }

  async status(requestId: string): Promise<InvocationStatus | undefined> {
    const found = await this.find(requestId);
    if (!found) return undefined;
    const fetchedState = await found.job.getState();
    // Held by a worker that waits for an environment to run it in: not running yet.
    const waits = fetchedState === 'active' && (await isWaitingForEnvironment(this.queues.connection as RedisClient, found.job));
    const state = waits ? 'waiting' : fetchedState;
    // The job may have finished between the two reads: then read it again, so the state and
    // the fields (result, finishedOn) agree.
    const finishedSinceRead = (state === 'completed' || state === 'failed') && !found.job.finishedOn;
    const job = finishedSinceRead ? ((await this.queues.get(found.functionName).getJob(requestId)) as Job<EventJobData> | undefined) : found.job;
    if (!job) return undefined;
    const status = describeInvocation(found.functionName, job, state);
    if (this.isFunctionLoaded) status.functionLoaded = await this.isFunctionLoaded(found.functionName);
    return status;
  }
}

/** A result as JSON when it is JSON; a custom runtime may answer any text, which stays text. */
function resultValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
