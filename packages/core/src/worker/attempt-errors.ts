import { UnrecoverableError } from 'bullmq';
import type { AttemptRecord } from '../queue/attempt-record';

/** Thrown by the worker for a failed attempt that will run again after `retryDelayMs`. */
export class RetryAttemptError extends Error {
  override readonly name = 'AttemptFailed';
  constructor(
    readonly record: AttemptRecord,
    readonly retryDelayMs: number,
  ) {
    super(record.error.errorMessage);
    // BullMQ stores `stack` in the job's stacktrace list: make it the attempt's record.
    this.stack = JSON.stringify(record);
  }
}

/**
 * Thrown for the attempt after which the event is dead-lettered: a BullMQ `UnrecoverableError`
 * that carries the attempt's record, so BullMQ moves the job to its failed set (our DLQ) in the
 * same script, whatever attempts remain.
 */
export class DeadLetterError extends UnrecoverableError {
  // BullMQ's constructor sets `name` to the subclass's name; keep its own, because BullMQ (in
  // `Job.moveToFailed`) and the worker's `failed` handler match dead-lettering by `name` too.
  override readonly name = 'UnrecoverableError';
  constructor(readonly record: AttemptRecord) {
    super(record.error.errorMessage);
    this.stack = JSON.stringify(record);
  }
}
