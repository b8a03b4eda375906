import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import {
  DeadLetterError,
  isCircuitOpen,
  type CircuitBreakers,
  type ConcurrencyLeases,
  buildDestinationRecord,
  type DestinationCondition,
  RetryAttemptError,
  decideAfterFailure,
  functionOfQueue,
  isEventJobData,
  isEventTooOld,
  logInvocation,
  type AttemptRecord,
  type EventJobData,
  type FunctionError,
  type Executor,
  type FunctionMeters,
  type FunctionRegistry,
  type InvocationType,
  type Logger,
  type Metrics,
  type ResolvedFunction,
  type RetryPolicy,
} from '@invoq/core';

export interface ProcessorDeps {
  registry: FunctionRegistry;
  executor: Executor;
  breakers: CircuitBreakers;
  leases: ConcurrencyLeases;
  metrics: Metrics;
  meters: (functionName: string, type: InvocationType) => FunctionMeters;
  logger: Logger;
  retryBaseDelayMs: number;
  /** The function's retry policy now: function.json, overridden at run time (event-invoke-config). */
  policyOf: (fn: ResolvedFunction) => Promise<RetryPolicy>;
  /** The function's onSuccess / onFailure URLs now. */
  destinationsOf: (fn: ResolvedFunction) => Promise<{ onSuccess?: string; onFailure?: string }>;
  /** Queues a destination delivery (delivered apart, with its own retries). */
  deliver: (functionName: string, url: string, record: ReturnType<typeof buildDestinationRecord>) => Promise<void>;
}

/** What a succeeded event keeps: the result's JSON text, unless it is too large to keep. */
export type EventReturnValue = { result: string } | { resultTruncated: true };
const MAX_KEPT_RESULT_BYTES = 65_536;
/** A throttled event waits 250–500 ms before it tries for a slot again. */
const THROTTLE_RETRY_MS = 250;

/**
 * Runs one attempt of an event and turns its outcome into BullMQ's language: return = done,
 * `RetryAttemptError` = retry after a delay we chose, `DeadLetterError` = into the DLQ now.
 * The decision is made here, per attempt, from the function's current policy.
 */
export function createProcessor(deps: ProcessorDeps) {
  const { registry, executor, metrics, meters, logger } = deps;

  return async function processEvent(job: Job<EventJobData>, token?: string): Promise<EventReturnValue> {
    const functionName = functionOfQueue(job.queueName);
    const fn = functionName === undefined ? undefined : registry.get(functionName);
    if (!fn) throw new UnrecoverableError(`function ${functionName ?? job.queueName} is not loaded by this worker`);
    if (!isEventJobData(job.data)) throw new UnrecoverableError(`event ${job.id} has an unknown data version`);
    const { payload, receivedAt } = job.data;
    const requestId = job.id!;
    const attempt = job.attemptsMade + 1;
    // More starts than attempts: a worker died while running this one before. It runs again
    // (at least once) without spending an attempt.
    if (job.attemptsStarted > attempt) metrics.reruns.inc({ function: fn.name });
    const policy = await deps.policyOf(fn);
    const startedAt = Date.now();

    // Queued before the job moves on, so a crash in between re-runs rather than loses it.
    const notify = async (condition: DestinationCondition, attempts: number, extra: { resultBody?: string; error?: FunctionError }) => {
      const { onSuccess, onFailure } = await deps.destinationsOf(fn);
      const url = condition === 'Success' ? onSuccess : onFailure;
      if (!url) return;
      await deps.deliver(fn.name, url, buildDestinationRecord({ requestId, functionArn: fn.arn, condition, attempts, payload, ...extra }));
    };

    if (isEventTooOld(policy, receivedAt, startedAt)) {
      const error = { errorType: 'EventAgeExceeded', errorMessage: `Event older than ${policy.maximumEventAgeInSeconds} s was not run` };
      await notify('EventAgeExceeded', job.attemptsMade, {});
      throw new DeadLetterError({ attempt, startedAt, finishedAt: startedAt, outcome: 'error', error, deadLetterReason: 'EventAgeExceeded' });
    }

    const runAttempt = async (): Promise<EventReturnValue> => {
      metrics.asyncEventAge.observe({ function: fn.name }, (startedAt - receivedAt) / 1000);
      const m = meters(fn.name, 'async');
      m.concurrent.inc();
      let outcome;
      try {
        outcome = await deps.breakers.run(fn, () => executor.invoke(fn, { requestId, payload }));
      } catch (e) {
        if (!isCircuitOpen(e) || token === undefined) throw e;
        // Open breaker: the event waits for the half-open trial without spending an attempt.
        await job.moveToDelayed(Date.now() + deps.breakers.retryAfterSeconds(fn) * 1000, token);
        throw new DelayedError();
      } finally {
        m.concurrent.dec();
      }
      m.invocations.inc();
      m.duration.observe(outcome.durationMs / 1000);
      logInvocation(logger, fn, outcome, { type: 'async', attempt });

      if (!outcome.functionError) {
        metrics.asyncAttempts.observe({ function: fn.name }, attempt);
        await notify('Success', attempt, { resultBody: outcome.body });
        return outcome.body.length > MAX_KEPT_RESULT_BYTES ? { resultTruncated: true } : { result: outcome.body };
      }

      m.errors.inc();
      const finishedAt = Date.now();
      const record: AttemptRecord = {
        attempt,
        startedAt,
        finishedAt,
        outcome: outcome.functionError.errorType === 'Sandbox.Timedout' ? 'timeout' : 'error',
        error: { errorType: outcome.functionError.errorType, errorMessage: outcome.functionError.errorMessage.slice(0, 1024) },
      };
      const decision = decideAfterFailure({ policy, attempt, receivedAt, now: finishedAt, baseDelayMs: deps.retryBaseDelayMs });
      switch (decision.action) {
        case 'retry':
          throw new RetryAttemptError(record, decision.delayMs);
        case 'dead-letter':
          await notify(decision.reason, attempt, { error: outcome.functionError });
          throw new DeadLetterError({ ...record, deadLetterReason: decision.reason });
      }
    };

    // Over reservedConcurrency (all processes together): wait, spending no attempt, as Lambda
    // retries throttled events.
    const release = await deps.leases.tryAcquire(fn);
    if (!release) {
      metrics.throttles.inc({ function: fn.name, type: 'async', reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
      if (token === undefined) throw new Error('no lock token: cannot hold a throttled event');
      await job.moveToDelayed(Date.now() + THROTTLE_RETRY_MS + Math.floor(Math.random() * THROTTLE_RETRY_MS), token);
      throw new DelayedError();
    }
    try {
      return await runAttempt();
    } finally {
      await release();
    }
  };
}

/** BullMQ's hook for our backoff type: the delay the processor chose, carried by its error. */
export function retryDelayFromError(_attemptsMade: number, _type?: string, err?: Error): number {
  if (err instanceof RetryAttemptError) return err.retryDelayMs;
  // Not a function failure (the worker itself failed): try again shortly.
  return 1000;
}
