import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import type { Router } from 'express';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * The BullMQ dashboard (bull-board) over every function's queue. Read-only: redrive and
 * delete go through /dlq, which keeps each event's dead-letter past; and a browser session
 * with Basic auth is open to cross-site requests, so nothing here may change state.
 */
export function createQueueBoard(queues: ReadonlyArray<[string, Queue]>): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map(([name, queue]) => new BullMQAdapter(queue, { readOnlyMode: true, displayName: name, description: `events of function ${name}` })),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'invoq queues' } },
  });
  return serverAdapter.getRouter() as Router;
}
