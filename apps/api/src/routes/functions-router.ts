import { Router } from 'express';
import { InvoqError, describeFunction, type FunctionRegistry } from '@invoq/core';

/** AWS answers ListFunctions at most 50 at a time. */
const MAX_PAGE = 50;

function qualifierOf(query: unknown): string | undefined {
  const q = (query as Record<string, unknown>).Qualifier;
  return typeof q === 'string' ? q : undefined;
}

/** ListFunctions, GetFunction and GetFunctionConfiguration, in Lambda's response shapes. */
export function createFunctionsRouter(deps: { registry: FunctionRegistry }): Router {
  const router = Router();

  router.get(['/2015-03-31/functions', '/2015-03-31/functions/'], (req, res) => {
    const maxItems = req.query.MaxItems === undefined ? MAX_PAGE : Number(req.query.MaxItems);
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000) {
      throw new InvoqError('INVALID_PARAMETER', 'MaxItems must be an integer from 1 to 10000');
    }
    // The marker is the name of the last function already returned (names are unique and sorted).
    const marker = typeof req.query.Marker === 'string' ? Buffer.from(req.query.Marker, 'base64url').toString() : undefined;
    const all = deps.registry.list().sort((a, b) => a.name.localeCompare(b.name));
    const start = marker === undefined ? 0 : all.findIndex((f) => f.name.localeCompare(marker) > 0);
    const page = start < 0 ? [] : all.slice(start, start + Math.min(maxItems, MAX_PAGE));
    const last = page.at(-1);
    const more = last !== undefined && all.at(-1) !== last;
    res.json({
      Functions: page.map((fn) => describeFunction(fn, { includeEnvironment: res.locals.admin === true })),
      NextMarker: more ? Buffer.from(last.name).toString('base64url') : null,
    });
  });

  router.get('/2015-03-31/functions/:functionName', (req, res) => {
    const fn = deps.registry.resolve(req.params.functionName, qualifierOf(req.query));
    res.json({
      Configuration: describeFunction(fn, { includeEnvironment: res.locals.admin === true }),
      Code: { RepositoryType: 'S3', Location: '' },
      ...(fn.config.reservedConcurrency === undefined ? {} : { Concurrency: { ReservedConcurrentExecutions: fn.config.reservedConcurrency } }),
    });
  });

  router.get('/2015-03-31/functions/:functionName/configuration', (req, res) => {
    const fn = deps.registry.resolve(req.params.functionName, qualifierOf(req.query));
    res.json(describeFunction(fn, { includeEnvironment: res.locals.admin === true }));
  });

  return router;
}
