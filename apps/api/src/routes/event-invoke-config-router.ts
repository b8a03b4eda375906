import { Router, type Request } from 'express';
import {
  InvoqError,
  NOTHING_TO_SET_MESSAGE,
  eventInvokeConfigInputSchema,
  setsNothing,
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
    throw new InvoqError(
      'INVALID_PARAMETER',
      `1 validation error detected: Value at '${issue?.path.join('.') || 'body'}' failed to satisfy constraint: ${issue?.message}`,
    );
  }
  if (setsNothing(parsed.data)) throw new InvoqError('INVALID_PARAMETER', NOTHING_TO_SET_MESSAGE);
  return parsed.data;
}

/** Lambda's `FunctionEventInvokeConfig`: the retry settings only when set, both destination sides always. */
function present(fn: ResolvedFunction, config: StoredEventInvokeConfig) {
  return {
    LastModified: config.LastModified,
    FunctionArn: `${fn.arn}:$LATEST`,
    ...(config.MaximumRetryAttempts === undefined ? {} : { MaximumRetryAttempts: config.MaximumRetryAttempts }),
    ...(config.MaximumEventAgeInSeconds === undefined ? {} : { MaximumEventAgeInSeconds: config.MaximumEventAgeInSeconds }),
    DestinationConfig: { OnSuccess: config.DestinationConfig?.OnSuccess ?? {}, OnFailure: config.DestinationConfig?.OnFailure ?? {} },
  };
}

/**
 * Lambda's event-invoke-config API, as AWS means it. A function's configuration is the one Put
 * (or Updated) at run time, else its `function.json`'s `async` block, else none. Get and List show
 * that configuration, which is the one that runs; Put replaces it whole (what it omits is Lambda's
 * default: 2 retries, 6 hours, no destinations); Update merges into it; Delete drops the run-time
 * one, so `function.json`'s runs again. Reading is open to any key; changing needs an admin key.
 */
export function createEventInvokeConfigRouter(deps: { registry: FunctionRegistry; eventInvokeConfigs: EventInvokeConfigStore }): Router {
  const router = Router();
  const { registry, eventInvokeConfigs: store } = deps;
  const resolve = (req: Request) =>
    registry.resolve(req.params.functionName as string, typeof req.query.Qualifier === 'string' ? req.query.Qualifier : undefined);
  const notConfigured = (fn: ResolvedFunction) => new InvoqError('NOT_FOUND', `The function ${fn.arn}:$LATEST doesn't have an EventInvokeConfig`);

  router.get(`${PATH}/list`, async (req, res) => {
    const fn = resolve(req);
    const effective = await store.effective(fn);
    res.json({ FunctionEventInvokeConfigs: effective ? [present(fn, effective.config)] : [], NextMarker: null });
  });
  router.get(PATH, async (req, res) => {
    const fn = resolve(req);
    const effective = await store.effective(fn);
    if (!effective) throw notConfigured(fn);
    res.json(present(fn, effective.config));
  });
  router.put(PATH, requireAdmin, async (req, res) => {
    const fn = resolve(req);
    res.json(present(fn, await store.put(fn, parseInput(req))));
  });
  router.post(PATH, requireAdmin, async (req, res) => {
    const fn = resolve(req);
    const updated = await store.update(fn, parseInput(req));
    if (!updated) throw notConfigured(fn);
    res.json(present(fn, updated));
  });
  router.delete(PATH, requireAdmin, async (req, res) => {
    const fn = resolve(req);
    // With nothing set at run time, `function.json`'s configuration is already the one in force:
    // Delete's outcome holds (204). With none at all, Lambda's 404.
    if (!(await store.delete(fn.name)) && !fn.config.asyncOptions) throw notConfigured(fn);
    res.status(204).end();
  });
  return router;
}
