/**
 * What an async event stores in its BullMQ job. Versioned: a worker must read every version a
 * running API may still write. The job id is the request id (`x-amzn-RequestId`).
 */
export interface EventJobDataV1 {
  v: 1;
  /** The request body exactly as received (checked to be JSON on the API, never re-serialised). */
  payload: string;
  /** Epoch ms when the API accepted the event. */
  receivedAt: number;
  /**
   * `_X_AMZN_TRACE_ID` of every attempt. Absent in events stored before it was kept: those get
   * one derived from their request id (`traceIdOfStoredEvent`), the same at every attempt.
   */
  traceId?: string;
  /**
   * The published version of a deployed function the event runs (an alias resolved when it was
   * accepted), on every attempt and after a redrive. Absent: `$LATEST`, whatever it is when the
   * attempt runs, as in Lambda.
   */
  version?: string;
  /** Each time the event was taken out of the dead-letter queue to run again, oldest first. */
  redrives?: RedriveRecord[];
  /**
   * Set once the event succeeded and its payload (this many bytes) was dropped: a finished job
   * stays only so its status can be read, and the status never shows the payload.
   */
  payloadDropped?: number;
}

/** The dead-letter past a redriven event keeps. */
export interface RedriveRecord {
  /** Epoch ms of the redrive. */
  redrivenAt: number;
  deadLetteredAt: number;
  reason: string;
  attempts: number;
  error: { errorType: string; errorMessage: string };
  /** The bulk redrive that took it (`POST /dlq/redrive`); absent for a single redrive. */
  redriveId?: string;
}

export type EventJobData = EventJobDataV1;

/** BullMQ job name for an event; one kind today, named so others can follow. */
export const EVENT_JOB_NAME = 'event';

export function isEventJobData(value: unknown): value is EventJobData {
  const v = value as Partial<EventJobDataV1> | null;
  return typeof v === 'object' && v !== null && v.v === 1 && typeof v.payload === 'string' && typeof v.receivedAt === 'number';
}

/**
 * When the event's age starts counting: when it was accepted, or when it was last taken out of
 * the dead-letter queue. A redrive is a new delivery of the event (as re-sending a Lambda DLQ's
 * message is): its maximum event age counts from then, or an event dead-lettered for its age
 * could never be redriven.
 */
export function eventAgeStart(data: EventJobData): number {
  return data.redrives?.at(-1)?.redrivenAt ?? data.receivedAt;
}
