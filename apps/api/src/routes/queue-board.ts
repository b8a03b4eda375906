import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router as createRouter, type Router } from 'express';
import { InvoqError, queueHoldRemainingMs } from '@invoq/core';

export const QUEUE_BOARD_PATH = '/admin/queues';

/**
 * bull-board's BullMQ adapter, but a queue shows "rate limited" only while it is held (an open
 * breaker, a full reserved concurrency). bull-board reads the limiter key's TTL alone, and every
 * worker's never-binding limiter (HOLD_ONLY_LIMITER) keeps that key alive for a minute after
 * any fetch: each busy, healthy queue looked rate limited.
 */
class FunctionQueueAdapter extends BullMQAdapter {
  constructor(
    private readonly functionQueue: Queue,
    options: ConstructorParameters<typeof BullMQAdapter>[1],
  ) {
    super(functionQueue, options);
  }

  override getActiveRateLimitTtl(): Promise<number> {
    return queueHoldRemainingMs(this.functionQueue);
  }
}

/**
 * The BullMQ dashboard (bull-board) over every function's queue. Read-only: redrive and
 * delete go through /dlq, which keeps each event's dead-letter past; and a browser session
 * with Basic auth is open to cross-site requests, so nothing here may change state.
 */
export function createQueueBoard(queues: ReadonlyArray<[string, Queue]>): { router: Router; show: (queues: ReadonlyArray<[string, Queue]>) => void } {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  const adapters = (list: ReadonlyArray<[string, Queue]>) =>
    list.map(([name, queue]) => new FunctionQueueAdapter(queue, { readOnlyMode: true, displayName: name, description: `events of function ${name}` }));
  const board = createBullBoard({
    queues: adapters(queues),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'invoq queues' } },
  });
  const router = createRouter();
  // bull-board decodes query values a second time (`decodeURIComponent` on what express already
  // decoded) and answers 500 "URI malformed" for a lone `%`: refuse such a value as bad input.
  router.use((req, _res, next) => {
    for (const value of Object.values(req.query)) {
      try {
        decodeURIComponent(String(value));
      } catch {
        return next(new InvoqError('INVALID_PARAMETER', 'A query parameter of the queue dashboard is not valid percent-encoding'));
      }
    }
    next();
  });
  router.use(serverAdapter.getRouter() as Router);
  // Deployed functions come and go at run time: the board follows.
  return { router, show: (list) => board.replaceQueues(adapters(list)) };
}
