import { decideAfterFailure, isEventTooOld, retryDelayMs } from './retry-policy';

const policy = { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 };
const base = { policy, receivedAt: 0, now: 0, baseDelayMs: 60_000 };

describe('retryDelayMs', () => {
  it.each([
    // retry, random, expected: base × 2^(n−1), less up to 25% jitter
    [1, 0, 60_000],
    [1, 0.999999, 45_000],
    [2, 0, 120_000],
    [2, 0.5, 105_000],
    [3, 0, 240_000],
  ])('retry %i with random %f waits %i ms', (retry, random, expected) => {
    expect(retryDelayMs(60_000, retry, () => random)).toBe(expected);
  });
});

describe('decideAfterFailure', () => {
  it.each([
    [1, { action: 'retry', delayMs: 60_000 }],
    [2, { action: 'retry', delayMs: 120_000 }],
    [3, { action: 'dead-letter', reason: 'RetriesExhausted' }],
  ])('after attempt %i with 2 retries: %j', (attempt, expected) => {
    expect(decideAfterFailure({ ...base, attempt, random: () => 0 })).toEqual(expected);
  });

  it('with no retries, dead-letters after the first attempt', () => {
    expect(decideAfterFailure({ ...base, policy: { ...policy, maximumRetryAttempts: 0 }, attempt: 1 })).toEqual({
      action: 'dead-letter',
      reason: 'RetriesExhausted',
    });
  });

  it('gives up at once when the next attempt would start after the maximum age (Lambda look-ahead)', () => {
    const shortLived = { ...policy, maximumEventAgeInSeconds: 60 };
    expect(decideAfterFailure({ ...base, policy: shortLived, attempt: 1, now: 1000, random: () => 0 })).toEqual({
      action: 'dead-letter',
      reason: 'EventAgeExceeded',
    });
    expect(decideAfterFailure({ ...base, policy: shortLived, attempt: 1, now: 1000, baseDelayMs: 1000, random: () => 0 })).toEqual({
      action: 'retry',
      delayMs: 1000,
    });
  });
});

describe('isEventTooOld', () => {
  it('is true only past the maximum age', () => {
    expect(isEventTooOld({ ...policy, maximumEventAgeInSeconds: 60 }, 0, 60_000)).toBe(false);
    expect(isEventTooOld({ ...policy, maximumEventAgeInSeconds: 60 }, 0, 60_001)).toBe(true);
  });
});
