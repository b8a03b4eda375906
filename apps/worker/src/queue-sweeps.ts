import type { FunctionQueueState, FunctionStore, Logger, UnloadedEventSweeper } from '@invoq/core';

/**
 * Dead-letters the queued events of a deleted function (FunctionDeleted), and, as
 * FunctionNotFound, the too-old events of functions no live worker loads.
 */
export async function sweepUnloaded(sweeper: UnloadedEventSweeper, store: FunctionStore, logger: Logger, states: readonly FunctionQueueState[]): Promise<void> {
  for (const state of states) {
    if (state.queued === 0) continue;
    if ((await store.deletedAt(state.functionName)) !== undefined) {
      await sweepDeleted(sweeper, logger, state.functionName);
      continue;
    }
    if (state.loadedByWorker) continue;
    const moved = await sweeper.sweep(state.functionName);
    if (moved > 0)
      logger.warn(
        { functionName: state.functionName, count: moved, reason: 'FunctionNotFound' },
        'events of a function no worker loads dead-lettered past their maximum event age',
      );
  }
}

/** Moves every queued event of a deleted function to its dead-letter queue (FunctionDeleted). */
export async function sweepDeleted(sweeper: UnloadedEventSweeper, logger: Logger, functionName: string): Promise<void> {
  let total = 0;
  for (let moved = await sweeper.sweepDeleted(functionName); moved > 0; moved = await sweeper.sweepDeleted(functionName)) total += moved;
  if (total > 0) logger.warn({ functionName, count: total, reason: 'FunctionDeleted' }, 'queued events of a deleted function dead-lettered');
}
