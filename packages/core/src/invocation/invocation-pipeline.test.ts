/**
 * The pipeline's contract with its two callers: what each refusal comes back as, which metrics a
 * run touches under which `type`, and that the event-age histogram is observed only for an
 * event the breaker let through.
 */
import { InvoqError, NotStartedError } from '../errors';
import type { Executor } from '../execution/executor';
import type { InvocationOutcome, InvocationRequest } from '../execution/invocation';
import { functionSchema } from '../functions/function-schema';
import { functionArn, type ResolvedFunction } from '../functions/resolved-function';
import type { Logger } from '../logging/logger';
import { createMeterCache } from '../metrics/function-meters';
import { createMetrics } from '../metrics/metrics';
import type { CircuitBreakers } from '../protection/circuit-breakers';
import type { ConcurrencyLeases } from '../protection/concurrency-leases';
import { InvocationPipeline } from './invocation-pipeline';

const fn = { name: 'f', arn: functionArn('f'), config: functionSchema.parse({ handler: 'index.handler' }) } as ResolvedFunction;
const request: InvocationRequest = { requestId: 'r-1', payload: '{}' };
const outcome = (failed: boolean): InvocationOutcome =>
  ({
    requestId: 'r-1',
    traceId: 't',
    body: '{}',
    functionError: failed ? { errorType: 'Error', errorMessage: 'down', trace: [] } : undefined,
    durationMs: 20,
    initDurationMs: undefined,
    maxMemoryUsedMb: undefined,
    logs: [],
  }) as InvocationOutcome;
const openError = new InvoqError('SERVICE', 'open', { reason: 'CircuitBreakerOpen' });

function pipelineWith(run: { lease?: boolean; breakerOpen?: boolean; invoke?: () => Promise<InvocationOutcome> }) {
  const metrics = createMetrics('test');
  const released: string[] = [];
  const logged: Record<string, unknown>[] = [];
  const invoke = jest.fn(run.invoke ?? (async () => outcome(false)));
  const pipeline = new InvocationPipeline({
    executor: { invoke } as unknown as Executor,
    breakers: {
      isHalfOpen: () => false,
      run: async (_fn: ResolvedFunction, call: () => Promise<InvocationOutcome>) => (run.breakerOpen ? Promise.reject(openError) : call()),
    } as unknown as CircuitBreakers,
    leases: { tryAcquire: async () => (run.lease === false ? undefined : async () => void released.push('lease')) } as unknown as ConcurrencyLeases,
    metrics,
    meters: createMeterCache(metrics),
    logger: { info: (entry: Record<string, unknown>) => logged.push(entry) } as unknown as Logger,
  });
  return { pipeline, metrics, released, logged, invoke };
}
const valueOf = async (metric: { get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }> }, labels: object, metricName?: string) =>
  (await metric.get()).values.find(
    (v) =>
      (metricName === undefined || v.metricName === metricName) && Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
  )?.value ?? 0;

it('runs, meters and logs a completed run under its type, the lease released', async () => {
  const { pipeline, metrics, released, logged, invoke } = pipelineWith({ invoke: async () => outcome(true) });
  const result = await pipeline.run(fn, request, { type: 'async', attempt: 2, receivedAt: Date.now() - 3000 });
  expect(result).toEqual({ status: 'completed', outcome: outcome(true) });
  expect(invoke).toHaveBeenCalledWith(fn, request, undefined);
  expect(released).toEqual(['lease']);
  expect(await valueOf(metrics.invocations, { function: 'f', type: 'async' })).toBe(1);
  expect(await valueOf(metrics.errors, { function: 'f', type: 'async' })).toBe(1);
  expect(await valueOf(metrics.concurrent, { function: 'f', type: 'async' })).toBe(0);
  expect(await valueOf(metrics.asyncEventAge, { function: 'f' }, 'invoq_async_event_age_seconds_count')).toBe(1);
  expect(logged).toEqual([expect.objectContaining({ requestId: 'r-1', functionName: 'f', type: 'async', attempt: 2, outcome: 'Error' })]);
});

it('passes waitMs to the executor and observes no event age for a sync call', async () => {
  const { pipeline, metrics, logged, invoke } = pipelineWith({});
  await pipeline.run(fn, request, { type: 'sync', waitMs: 250 });
  expect(invoke).toHaveBeenCalledWith(fn, request, 250);
  expect(await valueOf(metrics.asyncEventAge, { function: 'f' }, 'invoq_async_event_age_seconds_count')).toBe(0);
  expect(logged[0]).not.toHaveProperty('attempt');
});

it('refuses without running: lease refused (a throttle of its type), breaker open (no event age), not started', async () => {
  const refused = pipelineWith({ lease: false });
  expect(await refused.pipeline.run(fn, request, { type: 'sync' })).toEqual({ status: 'lease-refused' });
  expect(refused.invoke).not.toHaveBeenCalled();
  expect(await valueOf(refused.metrics.throttles, { function: 'f', type: 'sync', reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' })).toBe(1);

  const open = pipelineWith({ breakerOpen: true });
  expect(await open.pipeline.run(fn, request, { type: 'async', receivedAt: Date.now() })).toEqual({ status: 'circuit-open', error: openError });
  expect(await valueOf(open.metrics.asyncEventAge, { function: 'f' }, 'invoq_async_event_age_seconds_count')).toBe(0);
  expect(open.released).toEqual(['lease']);

  const stopped = pipelineWith({ invoke: () => Promise.reject(new NotStartedError()) });
  expect(await stopped.pipeline.run(fn, request, { type: 'async' })).toMatchObject({ status: 'not-started' });
  expect(stopped.logged).toEqual([]);
});

it('counts an environment throttle under its type and throws it', async () => {
  const throttled = new InvoqError('THROTTLED', 'Rate Exceeded.', { reason: 'ConcurrentInvocationLimitExceeded' });
  const { pipeline, metrics, released } = pipelineWith({ invoke: () => Promise.reject(throttled) });
  await expect(pipeline.run(fn, request, { type: 'sync', waitMs: 1 })).rejects.toBe(throttled);
  expect(await valueOf(metrics.throttles, { function: 'f', type: 'sync', reason: 'ConcurrentInvocationLimitExceeded' })).toBe(1);
  expect(released).toEqual(['lease']);
});

it('checks the payload on this thread before a lease only when asked, for http functions', async () => {
  const http = { ...fn, config: { ...fn.config, runtime: 'http' } } as ResolvedFunction;
  const bad = { requestId: 'r-2', payload: '{not json' };
  const checked = pipelineWith({});
  await expect(checked.pipeline.run(http, bad, { type: 'sync', checkPayload: true })).rejects.toBeInstanceOf(InvoqError);
  expect(checked.released).toEqual([]);
  const unchecked = pipelineWith({});
  expect(await unchecked.pipeline.run(http, bad, { type: 'async' })).toMatchObject({ status: 'completed' });
});
