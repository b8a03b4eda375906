import { Router, type Request } from 'express';
import {
  InvoqError,
  eventInvokeConfigInputSchema,
  type EventInvokeConfigInput,
  type EventInvokeConfigStore,
  type FunctionRegistry,
  type ResolvedFunction,
  type StoredEventInvokeConfig,
} from '@invoq/core';
import { requireAdmin } from '../http/auth';

const PATH = '/2019-09-25/functions/:functionName/event-invoke-config';

function parseInput(req: Request): EventInvokeConfigInput {
  const text = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  let raw: unknown;
  try {
    raw = text.length === 0 ? {} : JSON.parse(text);
  } catch (e) {
    throw new InvoqError('INVALID_REQUEST_CONTENT', `Could not parse request body into json: ${(e as Error).message}`);
  }
  const parsed = eventInvokeConfigInputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvoqError('INVALID_PARAMETER', `1 validation error detected: Value at '${issue?.path.join('.') || 'body'}' failed to satisfy constraint: ${issue?.message}`);
  }
  return parsed.data;
}

function present(fn: ResolvedFunction, stored: StoredEventInvokeConfig) {
  return {
    LastModified: stored.LastModified,
    FunctionArn: `${fn.arn}:$LATEST`,
    ...(stored.MaximumRetryAttempts === undefined ? {} : { MaximumRetryAttempts: stored.MaximumRetryAttempts }),
    ...(stored.MaximumEventAgeInSeconds === undefined ? {} : { MaximumEventAgeInSeconds: stored.MaximumEventAgeInSeconds }),
    DestinationConfig: { OnSuccess: stored.DestinationConfig?.OnSuccess ?? {}, OnFailure: stored.DestinationConfig?.OnFailure ?? {} },
  };
}

/**
 * Lambda's event-invoke-config API: change a function's retries and event age at run time.
 * Reading is open to any key; changing needs an admin key.
 */
export function createEventInvokeConfigRouter(deps: { registry: FunctionRegistry; eventInvokeConfigs: EventInvokeConfigStore }): Router {
  const router = Router();
  const { registry, eventInvokeConfigs: store } = deps;
  const resolve = (req: Request) =>
    registry.resolve(req.params.functionName as string, typeof req.query.Qualifier === 'string' ? req.query.Qualifier : undefined);
  const notConfigured = (fn: ResolvedFunction) => new InvoqError('NOT_FOUND', `The function ${fn.arn} doesn't have an EventInvokeConfig`);

  router.get(`${PATH}/list`, async (req, res) => {
    const fn = resolve(req);
    const stored = await store.get(fn.name);
    res.json({ FunctionEventInvokeConfigs: stored ? [present(fn, stored)] : [], NextMarker: null });
  });
  router.get(PATH, async (req, res) => {
    const fn = resolve(req);
    const stored = await store.get(fn.name);
    if (!stored) throw notConfigured(fn);
    res.json(present(fn, stored));
  });
  router.put(PATH, requireAdmin, async (req, res) => {
    const fn = resolve(req);
    res.json(present(fn, await store.put(fn.name, parseInput(req))));
  });
  router.post(PATH, requireAdmin, async (req, res) => {
    const fn = resolve(req);
    if (!(await store.get(fn.name))) throw notConfigured(fn);
    res.json(present(fn, await store.update(fn.name, parseInput(req))));
  });
  router.delete(PATH, requireAdmin, async (req, res) => {
    const fn = resolve(req);
    if (!(await store.delete(fn.name))) throw notConfigured(fn);
    res.status(204).end();
  });
  return router;
}
