import CircuitBreaker from 'opossum';
import { InvoqError } from '../errors';
import type { InvocationOutcome } from '../execution/invocation';
import type { ResolvedFunction } from '../functions/resolved-function';

/** Breaker state as `invoq_circuit_state` reports it. */
export const CIRCUIT_STATE = { closed: 0, open: 1, halfOpen: 2 } as const;
/** The window failures are counted in (opossum's rolling count), 1 s buckets. */
const ROLLING_WINDOW_MS = 10_000;
/** How long a caller held back by a half-open breaker waits before it asks again. */
const TRIAL_WAIT_MS = 250;

/** A run that ended in a function error: a failure for the breaker, an answer for the caller. */
class FunctionFailed extends Error {
  constructor(readonly outcome: InvocationOutcome) {
    super(outcome.functionError?.errorMessage ?? 'function error');
  }
}

export interface CircuitBreakerEvents {
  onStateChange: (functionName: string, state: keyof typeof CIRCUIT_STATE) => void;
}

/**
 * One opossum breaker per function (`circuitBreaker` in function.json; `false` turns it off).
 * It counts every failed run (thrown error, timeout, crash, upstream error); a throttle is not a
 * failure of the function and does not count. While open, calls fail at once instead of waiting
 * on a dependency that is down. State is per process, as opossum's is.
 */
export class CircuitBreakers {
  private readonly breakers = new Map<string, CircuitBreaker<[() => Promise<InvocationOutcome>], InvocationOutcome>>();
  private readonly openedAt = new Map<string, number>();

  constructor(private readonly events: CircuitBreakerEvents) {}

  private breakerOf(fn: ResolvedFunction) {
    const settings = fn.config.circuitBreaker;
    if (settings === false) return undefined;
    let breaker = this.breakers.get(fn.name);
    if (!breaker) {
      const created: CircuitBreaker<[() => Promise<InvocationOutcome>], InvocationOutcome> = new CircuitBreaker(
        async (run: () => Promise<InvocationOutcome>) => {
          const outcome = await run();
          if (outcome.functionError) throw new FunctionFailed(outcome);
          return outcome;
        },
        {
          name: fn.name,
          // The executor enforces the function's own timeout; opossum's would not stop the run.
          timeout: false,
          // opossum opens above the threshold, so 100 ("open when every run fails") would never
          // open: just under it does what it says.
          errorThresholdPercentage: Math.min(settings.errorThresholdPercentage, 99.9),
          volumeThreshold: settings.volumeThreshold,
          resetTimeout: settings.resetTimeoutMs,
          rollingCountTimeout: ROLLING_WINDOW_MS,
          rollingCountBuckets: 10,
          enableSnapshots: false,
          // Only function failures count: throttles and shutdowns are ours, not the function's.
          // opossum takes a filtered error as a success, and a success closes a half-open
          // breaker; so while the trial call is ours, our error fails the trial instead: the
          // breaker stays open for another resetTimeout rather than closing untested.
          errorFilter: (err: Error) => !(err instanceof FunctionFailed) && !created.halfOpen,
        },
      );
      breaker = created;
      breaker.on('open', () => {
        this.openedAt.set(fn.name, Date.now());
        this.events.onStateChange(fn.name, 'open');
      });
      breaker.on('halfOpen', () => this.events.onStateChange(fn.name, 'halfOpen'));
      breaker.on('close', () => this.events.onStateChange(fn.name, 'closed'));
      this.breakers.set(fn.name, breaker);
    }
    return breaker;
  }

  /** True while the function's breaker waits for (or runs) its trial call. */
  isHalfOpen(fn: ResolvedFunction): boolean {
    return this.breakers.get(fn.name)?.halfOpen ?? false;
  }

  /**
   * Runs `run` through the function's breaker. A function error comes back as the outcome it
   * is (and counts as a failure); an open breaker throws `ServiceException` with Retry-After.
   */
  async run(fn: ResolvedFunction, run: () => Promise<InvocationOutcome>): Promise<InvocationOutcome> {
    const breaker = this.breakerOf(fn);
    if (!breaker) return run();
    try {
      return await breaker.fire(run);
    } catch (e) {
      if (e instanceof FunctionFailed) return e.outcome;
      if ((e as { code?: string }).code === 'EOPENBREAKER') throw this.openError(fn);
      throw e;
    }
  }

  /**
   * Milliseconds until an open breaker lets a trial call through; while the trial is running
   * (half-open), a short while, the trial's answer being due.
   */
  retryAfterMs(fn: ResolvedFunction): number {
    const settings = fn.config.circuitBreaker;
    const resetMs = settings === false ? 0 : settings.resetTimeoutMs;
    const openedAt = this.openedAt.get(fn.name) ?? Date.now();
    return Math.max(TRIAL_WAIT_MS, openedAt + resetMs - Date.now());
  }

  /** `retryAfterMs` in whole seconds, at least 1: the `Retry-After` header. */
  retryAfterSeconds(fn: ResolvedFunction): number {
    return Math.max(1, Math.ceil(this.retryAfterMs(fn) / 1000));
  }

  private openError(fn: ResolvedFunction): InvoqError {
    return new InvoqError('SERVICE', `The circuit breaker of function ${fn.name} is open after repeated failures; retry later.`, {
      retryAfterSeconds: this.retryAfterSeconds(fn),
      reason: 'CircuitBreakerOpen',
    });
  }

  shutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
    this.breakers.clear();
  }
}

/** True for the error `CircuitBreakers.run` throws while a breaker is open. */
export function isCircuitOpen(error: unknown): boolean {
  return error instanceof InvoqError && error.reason === 'CircuitBreakerOpen';
}
