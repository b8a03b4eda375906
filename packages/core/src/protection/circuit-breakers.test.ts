/**
 * The breaker's own rules, on opossum: function failures open it; invoq's refusals never count
 * while it is closed, and fail the trial while it is half-open (they say nothing of the
 * function, so they must not close it untested); 100 % means "when every run fails".
 */
import { InvoqError } from '../errors';
import type { InvocationOutcome } from '../execution/invocation';
import { functionSchema } from '../functions/function-schema';
import { functionArn, type ResolvedFunction } from '../functions/resolved-function';
import { waitFor } from '../../../../test/support/harness';
import { CircuitBreakers, isCircuitOpen } from './circuit-breakers';

const fnWith = (name: string, circuitBreaker: object): ResolvedFunction =>
  ({ name, arn: functionArn(name), config: functionSchema.parse({ handler: 'index.handler', circuitBreaker }) }) as ResolvedFunction;
const outcome = (failed: boolean): InvocationOutcome =>
  ({
    requestId: 'r',
    body: '{}',
    functionError: failed ? { errorType: 'Error', errorMessage: 'down', trace: [] } : undefined,
    durationMs: 1,
    logs: [],
  }) as unknown as InvocationOutcome;
const throttle = () => new InvoqError('THROTTLED', 'no environment free', { reason: 'ConcurrentInvocationLimitExceeded' });

const transitions: string[] = [];
const breakers = new CircuitBreakers({ onStateChange: (name, state) => transitions.push(`${name}:${state}`) });
afterAll(() => breakers.shutdown());

const fail = (fn: ResolvedFunction) => breakers.run(fn, async () => outcome(true));
const succeed = (fn: ResolvedFunction) => breakers.run(fn, async () => outcome(false));
const refuse = (fn: ResolvedFunction) => breakers.run(fn, async () => Promise.reject(throttle())).catch((e: unknown) => e);

it("never counts invoq's own refusals while closed", async () => {
  const fn = fnWith('refused', { volumeThreshold: 2, errorThresholdPercentage: 10, resetTimeoutMs: 60_000 });
  for (let i = 0; i < 10; i += 1) expect(await refuse(fn)).toBeInstanceOf(InvoqError);
  expect(await succeed(fn)).toMatchObject({ functionError: undefined });
  expect(transitions.filter((t) => t.startsWith('refused:'))).toEqual([]);
});

it("fails a half-open trial ended by invoq's own refusal, and closes on a real success", async () => {
  const fn = fnWith('trial', { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 100 });
  for (let i = 0; i < 3; i += 1) expect((await fail(fn)).functionError).toBeDefined();
  expect(isCircuitOpen(await succeed(fn).catch((e: unknown) => e))).toBe(true);
  await waitFor(() => breakers.isHalfOpen(fn), 5_000, 'the breaker to go half-open');

  expect(await refuse(fn)).toMatchObject({ code: 'THROTTLED' });
  expect(breakers.isHalfOpen(fn)).toBe(false);
  expect(isCircuitOpen(await succeed(fn).catch((e: unknown) => e))).toBe(true);

  await waitFor(() => breakers.isHalfOpen(fn), 5_000, 'the breaker to go half-open again');
  expect(await succeed(fn)).toMatchObject({ functionError: undefined });
  expect(transitions.filter((t) => t.startsWith('trial:'))).toEqual(['trial:open', 'trial:halfOpen', 'trial:open', 'trial:halfOpen', 'trial:closed']);
});

it('opens at errorThresholdPercentage 100 when every run fails, not before', async () => {
  const fn = fnWith('all', { volumeThreshold: 4, errorThresholdPercentage: 100, resetTimeoutMs: 60_000 });
  await succeed(fn);
  for (let i = 0; i < 4; i += 1) await fail(fn);
  expect(transitions.filter((t) => t.startsWith('all:'))).toEqual([]);

  const other = fnWith('allFail', { volumeThreshold: 4, errorThresholdPercentage: 100, resetTimeoutMs: 60_000 });
  for (let i = 0; i < 4; i += 1) await fail(other);
  expect(transitions.filter((t) => t.startsWith('allFail:'))).toEqual(['allFail:open']);
  expect(breakers.retryAfterSeconds(other)).toBe(60);
});
