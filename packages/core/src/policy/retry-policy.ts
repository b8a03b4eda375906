/**
 * Why an event left the queue without succeeding (Lambda's destination `condition`).
 * `FunctionNotFound`: no worker loads its function, and it outwaited its maximum event age.
 * `FunctionDeleted`: its deployed function (or the version it was accepted for) was deleted.
 */
export type DeadLetterReason = 'RetriesExhausted' | 'EventAgeExceeded' | 'WorkerLost' | 'FunctionNotFound' | 'FunctionDeleted';

export interface RetryPolicy {
  /** Retries after the first attempt, 0–2 (Lambda's `MaximumRetryAttempts`). */
  maximumRetryAttempts: number;
  /** 60–21600 (Lambda's `MaximumEventAgeInSeconds`). */
  maximumEventAgeInSeconds: number;
}

export type FailureDecision =
  { action: 'retry'; delayMs: number } | { action: 'dead-letter'; reason: Extract<DeadLetterReason, 'RetriesExhausted' | 'EventAgeExceeded'> };

export interface FailureInput {
  policy: RetryPolicy;
  /** The attempt that just failed, 1-based. */
  attempt: number;
  /** Epoch ms when the event was accepted. */
  receivedAt: number;
  now: number;
  /** Delay before retry n is base × 2^(n−1), less up to 25% jitter. */
  baseDelayMs: number;
  /** Source of jitter in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Up to this share of a retry delay is taken off at random, so retries of a burst spread out. */
export const RETRY_JITTER = 0.25;

export function retryDelayMs(baseDelayMs: number, retry: number, random: () => number = Math.random): number {
  const full = baseDelayMs * 2 ** (retry - 1);
  return Math.round(full * (1 - RETRY_JITTER * random()));
}

/**
 * What to do after a failed attempt, from the function's *current* policy. The age look-ahead
 * is Lambda's: if the next attempt would start after the maximum event age, give up now.
 */
export function decideAfterFailure(input: FailureInput): FailureDecision {
  const { policy, attempt } = input;
  if (attempt >= policy.maximumRetryAttempts + 1) return { action: 'dead-letter', reason: 'RetriesExhausted' };
  const delayMs = retryDelayMs(input.baseDelayMs, attempt, input.random);
  if (input.now + delayMs > input.receivedAt + policy.maximumEventAgeInSeconds * 1000) {
    return { action: 'dead-letter', reason: 'EventAgeExceeded' };
  }
  return { action: 'retry', delayMs };
}

/** An event that waited in the queue past its maximum age is not run at all. */
export function isEventTooOld(policy: RetryPolicy, receivedAt: number, now: number): boolean {
  return now > receivedAt + policy.maximumEventAgeInSeconds * 1000;
}
