import {
  FairWorker,
  HOLD_ONLY_LIMITER,
  RUN_RETRY_DELAY_MS,
  functionQueueName,
  type EventJobData,
  type RedisClient,
  type ResolvedFunction,
  type SlotPool,
} from '@invoq/core';
import type { Processor } from 'bullmq';
import { retryDelayFromError, type EventReturnValue } from './processor';

/**
 * A worker's hold on a running event. BullMQ renews it every LOCK_MS / 2 while the run is alive
 * (runs are in threads, so this event loop stays free to renew), so a slow run is never taken
 * for a dead worker; a dead worker's hold lapses after LOCK_MS, and the stalled check, every
 * STALLED_CHECK_MS, puts its events back within LOCK_MS + 2 × STALLED_CHECK_MS (~20 s; BullMQ's
 * defaults take up to 90 s). That re-run spends no attempt.
 */
const LOCK_MS = 10_000;
const STALLED_CHECK_MS = 5_000;

export type FunctionWorker = FairWorker<EventJobData, EventReturnValue>;

export interface FunctionWorkerOptions {
  connection: RedisClient;
  prefix: string;
  /** INVOQ_WORKER_CONCURRENCY: the slots of `slots`, all functions together. */
  workerConcurrency: number;
  slots: SlotPool;
  /** How many more of its events could start now (`Executor.roomFor`). */
  startRoom: () => number;
}

/** The BullMQ worker of one function's queue, as every worker process runs it. */
export function createFunctionWorker(
  fn: ResolvedFunction,
  processor: Processor<EventJobData, EventReturnValue>,
  options: FunctionWorkerOptions,
): FunctionWorker {
  return new FairWorker<EventJobData, EventReturnValue>(
    functionQueueName(fn.name),
    processor,
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: workerConcurrencyOf(fn, options.workerConcurrency),
      // BullMQ honours a queue hold (`rateLimit`, see holdQueue) only with a limiter set;
      // this one never limits by count (the dashboard reads holds by it: queueHoldRemainingMs).
      limiter: { ...HOLD_ONLY_LIMITER },
      lockDuration: LOCK_MS,
      stalledInterval: STALLED_CHECK_MS,
      runRetryDelay: RUN_RETRY_DELAY_MS,
      // A crash-stalled event runs again; the third loss dead-letters it (WorkerLost).
      maxStalledCount: 2,
      settings: { backoffStrategy: retryDelayFromError },
    },
    options.slots,
    options.startRoom,
  );
}

/**
 * How many of a function's events its worker takes at once: never more than its
 * reservedConcurrency (over it, a fetched event could only be handed back), at least one.
 */
export function workerConcurrencyOf(fn: ResolvedFunction, workerConcurrency: number): number {
  return Math.max(1, Math.min(workerConcurrency, fn.config.reservedConcurrency ?? Infinity));
}
