import { Router, type Request } from 'express';
import { InvoqError, type DeadLetterStore, type FunctionRegistry, type RedriveProgress, type RedriveRunner } from '@invoq/core';
import { requireAdmin } from '../http/auth';

function functionNameIn(isKnown: (name: string) => boolean, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !isKnown(value)) {
    throw new InvoqError('FUNCTION_NOT_FOUND', `Function not found: ${String(value).slice(0, 64)}`);
  }
  return value;
}

function jsonBody(req: Request): Record<string, unknown> {
  const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (text.trim().length === 0) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new InvoqError('INVALID_REQUEST_CONTENT', 'The body must be a JSON object, e.g. {"functionName":"orders"}');
}

/** Where a client follows a bulk redrive. */
const withStatusUrl = <T extends RedriveProgress>(p: T) => ({ ...p, statusUrl: `/dlq/redrives/${p.redriveId}` });

/** The dead-letter queue: browse, inspect, redrive, delete. Admin keys only. */
export function createDlqRouter(deps: {
  deadLetters: DeadLetterStore;
  redrives: RedriveRunner;
  registry: FunctionRegistry;
  isKnownFunction?: (name: string) => boolean;
}): Router {
  const router = Router();
  const { deadLetters, redrives, registry } = deps;
  // A function not loaded here still has its DLQ entries listed and redriven while its queue exists.
  const isKnown = (name: string) => registry.get(name) !== undefined || (deps.isKnownFunction?.(name) ?? false);
  const notFound = (id: string) => new InvoqError('NOT_FOUND', `No dead-lettered event ${id.slice(0, 64)}`);
  router.use('/dlq', requireAdmin);

  router.get('/dlq', async (req, res) => {
    const functionName = functionNameIn(isKnown, req.query.functionName);
    const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new InvoqError('INVALID_PARAMETER', 'limit must be an integer from 1 to 1000');
    const cursor = typeof req.query.cursor === 'string' ? req.query.cursor : undefined;
    try {
      res.json(await deadLetters.list({ functionName, limit, cursor }));
    } catch (e) {
      if ((e as Error).message === 'invalid cursor') throw new InvoqError('INVALID_PARAMETER', 'cursor is not one this API gave out');
      throw e;
    }
  });

  // Answers at once with the entries taken (a snapshot of the DLQ); the redrive goes on in the
  // background, whatever becomes of this request, and is followed at its status URL.
  router.post('/dlq/redrive', async (req, res) => {
    const functionName = functionNameIn(isKnown, jsonBody(req).functionName);
    const started = await redrives.begin(functionName);
    const items = started.redrives.map(withStatusUrl);
    if (items.length === 1) res.setHeader('Location', items[0]!.statusUrl);
    res.status(202).json({ redriven: started.redriven, redrives: items });
  });

  router.get('/dlq/redrives', async (req, res) => {
    const functionName = functionNameIn(isKnown, req.query.functionName);
    res.json({ items: (await redrives.list(functionName)).map(withStatusUrl) });
  });

  router.get('/dlq/redrives/:redriveId', async (req, res) => {
    const progress = await redrives.get(req.params.redriveId);
    if (!progress) throw new InvoqError('NOT_FOUND', `No redrive ${req.params.redriveId.slice(0, 100)}`);
    res.json(withStatusUrl(progress));
  });

  router.get('/dlq/:requestId', async (req, res) => {
    const entry = await deadLetters.get(req.params.requestId);
    if (!entry) throw notFound(req.params.requestId);
    res.json(entry);
  });

  router.post('/dlq/:requestId/redrive', async (req, res) => {
    if (!(await deadLetters.redrive(req.params.requestId))) throw notFound(req.params.requestId);
    res.status(202).json({ requestId: req.params.requestId, redriven: true });
  });

  router.delete('/dlq/:requestId', async (req, res) => {
    if (!(await deadLetters.delete(req.params.requestId))) throw notFound(req.params.requestId);
    res.status(204).end();
  });
  return router;
}
