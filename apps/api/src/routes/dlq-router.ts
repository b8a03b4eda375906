import { Router } from 'express';
import { InvoqError, type DeadLetterStore, type FunctionRegistry } from '@invoq/core';
import { requireAdmin } from '../http/auth';

/** The dead-letter queue, for admin keys. */
export function createDlqRouter(deps: { deadLetters: DeadLetterStore; registry: FunctionRegistry }): Router {
  const router = Router();
  router.get('/dlq', requireAdmin, async (req, res) => {
    const functionName = typeof req.query.functionName === 'string' ? req.query.functionName : undefined;
    if (functionName !== undefined && !deps.registry.get(functionName)) {
      throw new InvoqError('FUNCTION_NOT_FOUND', `Function not found: ${functionName}`);
    }
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new InvoqError('INVALID_PARAMETER', 'limit must be an integer from 1 to 1000');
    }
    const items = await deps.deadLetters.list({ functionName, limit });
    res.json({ items, nextCursor: null });
  });
  return router;
}
