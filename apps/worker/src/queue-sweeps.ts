import type { FunctionQueueState, FunctionStore, Logger, UnloadedEventSweeper } from '@invoq/core';

/**
 * Dead-letters the queued events of a deleted function (FunctionDeleted), and, as
 * FunctionNotFound, the too-old events of functions no live worker loads.
 */
export async function sweepUnloaded(sweeper: UnloadedEventSweeper, store: FunctionStore, logger: Logger, states: readonly FunctionQueueState[]): Promise<void> {
  for (const state of states) {
    if (state.queued === 0) continue;
    if ((await store.deletedAt(state.functionName)) !== undefined) {
      await sweepDeleted(sweeper, store, logger, state.functionName);
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

/**
 * Moves every queued event of a deleted function to its dead-letter queue (FunctionDeleted), a
 * batch at a time while it stays deleted: a function created again under the name keeps its events.
 */
export async function sweepDeleted(sweeper: UnloadedEventSweeper, store: FunctionStore, logger: Logger, functionName: string): Promise<void> {
  let total = 0;
  while ((await store.deletedAt(functionName)) !== undefined) {
    const moved = await sweeper.sweepDeleted(functionName);
    if (moved === 0) break;
    total += moved;
  }
  if (total > 0) logger.warn({ functionName, count: total, reason: 'FunctionDeleted' }, 'queued events of a deleted function dead-lettered');
}
