import { Router } from 'express';
import { InvoqError, type InvocationStatus, type InvocationStatusReader } from '@invoq/core';

/** `?wait=N` holds the request at most this long (seconds), as the contract says. */
const MAX_WAIT_SECONDS = 30;
const POLL_MS = 100;

const finished = (s: InvocationStatus) => s.status === 'succeeded' || s.status === 'dead-lettered';

/** `GET /invocations/{requestId}[?wait=N]`: where an async event is, and how it ended. */
export function createInvocationsRouter(deps: { statusReader: InvocationStatusReader }): Router {
  const router = Router();
  router.get('/invocations/:requestId', async (req, res) => {
    const requestId = req.params.requestId;
    const wait = req.query.wait === undefined ? 0 : Number(req.query.wait);
    if (!Number.isFinite(wait) || wait < 0 || wait > MAX_WAIT_SECONDS) {
      throw new InvoqError('INVALID_PARAMETER', `wait must be a number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
    }
    const deadline = Date.now() + wait * 1000;
    let gone = false;
    res.on('close', () => (gone = true));
    let status = await deps.statusReader.status(requestId);
    // Long-poll: one client can treat an event like a sync call when it wants to.
    while (status && !finished(status) && Date.now() < deadline && !gone) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, deadline - Date.now())));
      status = await deps.statusReader.status(requestId);
    }
    if (!status)
      throw new InvoqError('NOT_FOUND', `No invocation ${requestId.slice(0, 64)} (unknown, or finished more than INVOQ_STATUS_RETENTION_SECONDS ago)`);
    res.json(status);
  });
  return router;
}
