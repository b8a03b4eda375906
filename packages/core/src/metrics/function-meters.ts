import type { Counter, Gauge, Histogram } from 'prom-client';
import type { InvocationType, Metrics } from './metrics';

/** The labelled children one function and invocation type touch on every call. */
export interface FunctionMeters {
  invocations: Counter.Internal;
  errors: Counter.Internal;
  duration: Histogram.Internal<string>;
  concurrent: Gauge.Internal<string>;
}

/**
 * Caches label children per (function, type): resolving labels hashes them on every call, and
 * this is the hot path of every invoke.
 */
export function createMeterCache(metrics: Metrics): (functionName: string, type: InvocationType) => FunctionMeters {
  const cache = new Map<string, FunctionMeters>();
  return (functionName, type) => {
    const key = `${type}:${functionName}`;
    let meters = cache.get(key);
    if (!meters) {
      const labels = { function: functionName, type };
      meters = {
        invocations: metrics.invocations.labels(labels),
        errors: metrics.errors.labels(labels),
        duration: metrics.duration.labels(labels),
        concurrent: metrics.concurrent.labels(labels),
      };
      cache.set(key, meters);
    }
    return meters;
  };
}
