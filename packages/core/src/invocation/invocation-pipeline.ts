import { InvoqError, isNotStarted } from '../errors';
import type { Executor } from '../execution/executor';
import type { InvocationOutcome, InvocationRequest } from '../execution/invocation';
import type { ResolvedFunction } from '../functions/resolved-function';
import { logInvocation } from '../logging/invocation-log';
import type { Logger } from '../logging/logger';
import type { FunctionMeters } from '../metrics/function-meters';
import type { InvocationType, Metrics } from '../metrics/metrics';
import { isCircuitOpen, type CircuitBreakers } from '../protection/circuit-breakers';
import type { ConcurrencyLeases } from '../protection/concurrency-leases';
import { checkJsonPayload } from './json-payload';

export interface InvocationPipelineDeps {
  executor: Executor;
  breakers: CircuitBreakers;
  leases: ConcurrencyLeases;
  metrics: Metrics;
  meters: (functionName: string, type: InvocationType) => FunctionMeters;
  logger: Logger;
}

/** How one run goes through the pipeline; the fields are what differs between sync and async. */
export interface InvocationRunOptions {
  /** Labels the meters, the throttle metric and the log line. */
  type: InvocationType;
  /** The event's attempt number, for the log line (async only). */
  attempt?: number;
  /** How long the run may wait for a free environment; default: as long as it takes. */
  waitMs?: number;
  /**
   * When the event was received (epoch ms): the event-age histogram is observed as the breaker
   * lets the attempt through (Lambda's AsyncEventAge). Unset for sync calls.
   */
  receivedAt?: number;
  /**
   * Checks the body is JSON on this thread, before a lease is spent, for `http` functions (no
   * environment parses it) and half-open breakers (a bad body must not spend the one trial call).
   * Default false: queued events were checked when they were accepted.
   */
  checkPayload?: boolean;
}

/**
 * What became of a run. Only `completed` ran the function (a function error is still
 * `completed`); the others are refusals the caller turns into its own answer: an error for a
 * sync call, a queue hold for an event.
 */
export type InvocationRunResult =
  | { status: 'completed'; outcome: InvocationOutcome }
  /** Over reservedConcurrency (every process together); the throttle is already counted. */
  | { status: 'lease-refused' }
  /** The breaker is open; `error` is its refusal, thrown as is by a sync call. */
  | { status: 'circuit-open'; error: Error }
  /** `request.signal` aborted before the run had an environment: nothing of it ran. */
  | { status: 'not-started'; error: Error };

/**
 * The one way a function is run, by the API's sync path and by the worker's attempt alike:
 * reserved-concurrency lease, circuit breaker, meters, execute, metrics and the invocation log
 * line. What to do about a refusal, and after a function error, is the caller's policy.
 */
export class InvocationPipeline {
  constructor(private readonly deps: InvocationPipelineDeps) {}

  /** Runs `fn` once. Throws only what is neither an outcome nor a refusal (e.g. a bad payload). */
  async run(fn: ResolvedFunction, request: InvocationRequest, options: InvocationRunOptions): Promise<InvocationRunResult> {
    const { breakers, leases, metrics } = this.deps;
    const { type } = options;
    if (options.checkPayload && (fn.config.runtime === 'http' || breakers.isHalfOpen(fn))) checkJsonPayload(request.payload);
    // Unlimited functions skip the lease; limited ones hold it across every process (Redis).
    const release = await leases.tryAcquire(fn);
    if (!release) {
      metrics.throttles.inc({ function: fn.name, type, reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
      return { status: 'lease-refused' };
    }
    let outcome: InvocationOutcome;
    try {
      outcome = await this.execute(fn, request, options);
    } catch (e) {
      // An open breaker answers at once, without touching the failing dependency.
      if (isNotStarted(e)) return { status: 'not-started', error: e as Error };
      if (isCircuitOpen(e)) return { status: 'circuit-open', error: e as Error };
      if (e instanceof InvoqError && e.code === 'THROTTLED') metrics.throttles.inc({ function: fn.name, type, reason: e.reason ?? 'unknown' });
      throw e;
    } finally {
      await release();
    }
    this.record(fn, outcome, options);
    return { status: 'completed', outcome };
  }

  private async execute(fn: ResolvedFunction, request: InvocationRequest, options: InvocationRunOptions): Promise<InvocationOutcome> {
    const { executor, breakers, metrics, meters } = this.deps;
    const { receivedAt } = options;
    const m = meters(fn.name, options.type);
    m.concurrent.inc();
    try {
      return await breakers.run(fn, () => {
        if (receivedAt !== undefined) metrics.asyncEventAge.observe({ function: fn.name }, (Date.now() - receivedAt) / 1000);
        return executor.invoke(fn, request, options.waitMs);
      });
    } finally {
      m.concurrent.dec();
    }
  }

  private record(fn: ResolvedFunction, outcome: InvocationOutcome, options: InvocationRunOptions): void {
    const m = this.deps.meters(fn.name, options.type);
    m.invocations.inc();
    m.duration.observe(outcome.durationMs / 1000);
    if (outcome.functionError) m.errors.inc();
    const fields = options.attempt === undefined ? { type: options.type } : { type: options.type, attempt: options.attempt };
    logInvocation(this.deps.logger, fn, outcome, fields);
  }
}
