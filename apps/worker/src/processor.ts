import { UnrecoverableError, Worker, type Job } from 'bullmq';
import {
  DeadLetterError,
  InvocationPipeline,
  type InvocationPipelineDeps,
  type InvocationRunResult,
  buildDestinationRecord,
  type DestinationCondition,
  RetryAttemptError,
  decideAfterFailure,
  eventAgeStart,
  functionOfQueue,
  isEventJobData,
  isEventTooOld,
  type AttemptRecord,
  type EventJobData,
  type FunctionError,
  type FunctionRegistry,
  type ResolvedFunction,
  type RetryPolicy,
  traceIdOfStoredEvent,
} from '@invoq/core';

export interface ProcessorDeps extends InvocationPipelineDeps {
  registry: FunctionRegistry;
  retryBaseDelayMs: number;
  /** The function's retry policy now: function.json, overridden at run time (event-invoke-config). */
  policyOf: (fn: ResolvedFunction) => Promise<RetryPolicy>;
  /** The function's onSuccess / onFailure URLs now. */
  destinationsOf: (fn: ResolvedFunction) => Promise<{ onSuccess?: string; onFailure?: string }>;
  /** Queues a destination delivery (delivered apart, with its own retries). */
  deliver: (functionName: string, url: string, record: ReturnType<typeof buildDestinationRecord>) => Promise<void>;
  /**
   * Stops every worker, in every process, from taking the function's events for `ms` (BullMQ's
   * queue rate limit). The event in hand goes back to the head of the queue.
   */
  holdQueue: (functionName: string, ms: number) => Promise<void>;
  /** Aborted when the worker stops: an event whose run has not begun is then handed back. */
  stopping: AbortSignal;
  /** Told when an event's run must wait for an environment, and when it begins. */
  onRunWaiting: (job: Job<EventJobData>) => void;
  onRunStarted: (job: Job<EventJobData>) => void;
  /** Reads a deployed function from Redis now (an event may name a version this process has not heard of yet). */
  refreshFunction: (functionName: string) => Promise<void>;
  /** When a deployed function was deleted, while its tombstone lasts. */
  deletedAt: (functionName: string) => Promise<number | undefined>;
}

/** What a succeeded event keeps: the result's JSON text, unless it is too large to keep. */
export type EventReturnValue = { result: string } | { resultTruncated: true };
const MAX_KEPT_RESULT_BYTES = 65_536;
/**
 * Over reservedConcurrency, the function's queue is held 100–200 ms before a worker asks for a
 * lease again. A process never fetches more than the limit itself (its worker's concurrency), so
 * this happens only while other processes hold the leases.
 */
const THROTTLE_HOLD_MS = 100;

/**
 * A run the pipeline refused goes back to the queue, spending no attempt: BullMQ's moveToWait,
 * via RateLimitError. Over reservedConcurrency or with the breaker open, the function's queue is
 * held first (rather than each event, which leaves a backlog in order and idle).
 */
async function handBack(
  deps: ProcessorDeps,
  fn: ResolvedFunction,
  requestId: string,
  result: Exclude<InvocationRunResult, { status: 'completed' }>,
): Promise<never> {
  switch (result.status) {
    case 'lease-refused':
      // Other processes hold the leases: wait, as Lambda retries throttled events.
      await deps.holdQueue(fn.name, THROTTLE_HOLD_MS + Math.floor(Math.random() * THROTTLE_HOLD_MS)).catch(() => undefined);
      break;
    case 'circuit-open':
      // The function's events wait for the half-open trial.
      await deps.holdQueue(fn.name, deps.breakers.retryAfterMs(fn)).catch(() => undefined);
      break;
    case 'not-started':
      // Stopping, and this run never began: another worker takes it, with no stall counted.
      deps.logger.info({ requestId, functionName: fn.name }, 'stopping: handed back an event that had not started');
      break;
  }
  throw Worker.RateLimitError();
}

/**
 * Runs one attempt of an event through the `InvocationPipeline` and turns what became of it into
 * BullMQ's language: return = done, `RetryAttemptError` = retry after a delay we chose,
 * `DeadLetterError` = into the DLQ now, `RateLimitError` = back to the queue, no attempt spent.
 * The decision is made here, per attempt, from the function's current policy.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { metrics } = deps;
  const pipeline = new InvocationPipeline(deps);

  return async function processEvent(job: Job<EventJobData>): Promise<EventReturnValue> {
    const functionName = functionOfQueue(job.queueName);
    if (!isEventJobData(job.data)) throw new UnrecoverableError(`event ${job.id} has an unknown data version`);
    const version = job.data.version ?? '$LATEST';
    const fn = functionName === undefined ? undefined : await versionToRun(deps, functionName, version);
    if (!fn) {
      if (functionName !== undefined && (await isDeleted(deps, functionName, version))) {
        const now = Date.now();
        const error = {
          errorType: 'FunctionDeleted',
          errorMessage: `Function ${functionName}${version === '$LATEST' ? '' : ` version ${version}`} was deleted before the event ran`,
        };
        throw new DeadLetterError({
          attempt: job.attemptsMade + 1,
          startedAt: now,
          finishedAt: now,
          outcome: 'error',
          error,
          deadLetterReason: 'FunctionDeleted',
        });
      }
      throw new UnrecoverableError(`function ${functionName ?? job.queueName} is not loaded by this worker`);
    }
    const { payload, receivedAt } = job.data;
    // A redriven event's age counts from its redrive, not its first receipt.
    const ageStart = eventAgeStart(job.data);
    const requestId = job.id!;
    const traceId = job.data.traceId ?? traceIdOfStoredEvent(requestId, receivedAt);
    const attempt = job.attemptsMade + 1;
    const policy = await deps.policyOf(fn);
    const startedAt = Date.now();

    // Queued before the job moves on, so a crash in between re-runs rather than loses it.
    const notify = async (condition: DestinationCondition, attempts: number, extra: { resultBody?: string; error?: FunctionError }) => {
      const { onSuccess, onFailure } = await deps.destinationsOf(fn);
      const url = condition === 'Success' ? onSuccess : onFailure;
      if (!url) return;
      await deps.deliver(fn.name, url, buildDestinationRecord({ requestId, functionArn: fn.arn, condition, attempts, payload, ...extra }));
    };

    if (isEventTooOld(policy, ageStart, startedAt)) {
      const error = { errorType: 'EventAgeExceeded', errorMessage: `Event older than ${policy.maximumEventAgeInSeconds} s was not run` };
      await notify('EventAgeExceeded', job.attemptsMade, {});
      throw new DeadLetterError({ attempt, startedAt, finishedAt: startedAt, outcome: 'error', error, deadLetterReason: 'EventAgeExceeded' });
    }

    const result = await pipeline.run(
      fn,
      { requestId, payload, traceId, signal: deps.stopping, onWait: () => deps.onRunWaiting(job), onStart: () => deps.onRunStarted(job) },
      { type: 'async', attempt, receivedAt },
    );
    if (result.status !== 'completed') return handBack(deps, fn, requestId, result);
    const { outcome } = result;

    if (!outcome.functionError) {
      metrics.asyncAttempts.observe({ function: fn.name }, attempt);
      await notify('Success', attempt, { resultBody: outcome.body });
      return outcome.body.length > MAX_KEPT_RESULT_BYTES ? { resultTruncated: true } : { result: outcome.body };
    }

    const finishedAt = Date.now();
    const record: AttemptRecord = {
      attempt,
      startedAt,
      finishedAt,
      outcome: outcome.functionError.errorType === 'Sandbox.Timedout' ? 'timeout' : 'error',
      error: { errorType: outcome.functionError.errorType, errorMessage: outcome.functionError.errorMessage.slice(0, 1024) },
    };
    const decision = decideAfterFailure({ policy, attempt, receivedAt: ageStart, now: finishedAt, baseDelayMs: deps.retryBaseDelayMs });
    switch (decision.action) {
      case 'retry':
        throw new RetryAttemptError(record, decision.delayMs);
      case 'dead-letter':
        await notify(decision.reason, attempt, { error: outcome.functionError });
        throw new DeadLetterError({ ...record, deadLetterReason: decision.reason });
    }
  };
}

/** The version an event runs; one this process has not heard of yet is read from Redis first. */
async function versionToRun(deps: ProcessorDeps, functionName: string, version: string): Promise<ResolvedFunction | undefined> {
  const known = deps.registry.version(functionName, version);
  if (known || deps.registry.isFolderFunction(functionName)) return known;
  await deps.refreshFunction(functionName);
  return deps.registry.version(functionName, version);
}

/** The function was deleted, or still exists without the version the event was accepted for. */
async function isDeleted(deps: ProcessorDeps, functionName: string, version: string): Promise<boolean> {
  if ((await deps.deletedAt(functionName)) !== undefined) return true;
  return version !== '$LATEST' && deps.registry.get(functionName)?.source === 'deployed';
}

/** BullMQ's hook for our backoff type: the delay the processor chose, carried by its error. */
export function retryDelayFromError(_attemptsMade: number, _type?: string, err?: Error): number {
  if (err instanceof RetryAttemptError) return err.retryDelayMs;
  // Not a function failure (the worker itself failed): try again shortly.
  return 1000;
}
