import { Router, type Request } from 'express';
import {
  InvoqError,
  describeDeployedVersion,
  describeFunction,
  parseFunctionName,
  signedCodePath,
  type DeployedFunction,
  type FunctionDeployments,
  type FunctionRegistry,
  type FunctionStore,
} from '@invoq/core';
import { listPage } from '../http/list-page';
import { qualifierOf, resolveDeployed } from './deployed-lookup';

export interface FunctionsRouterDeps {
  registry: FunctionRegistry;
  /** Functions deployed through the management API; without them only folder functions are listed. */
  deployments?: FunctionDeployments;
  /** Signs GetFunction's `Code.Location` (`codeUrlKey()`). */
  functionStore?: FunctionStore;
  config: { region: string };
  now?: () => number;
}

/** A ListFunctions entry's key: the name, and with `FunctionVersion=ALL` the version (`$LATEST` first, then by number). */
const versionRank = (version: string | undefined) => (version === undefined ? Infinity : version === '$LATEST' ? -1 : Number(version));
function compareEntryKeys(a: string, b: string): number {
  const [nameA, versionA] = a.split(':', 2);
  const [nameB, versionB] = b.split(':', 2);
  return nameA!.localeCompare(nameB!) || versionRank(versionA) - versionRank(versionB);
}

/** ListFunctions, GetFunction and GetFunctionConfiguration, in Lambda's response shapes: folder functions and deployed ones. */
export function createFunctionsRouter(deps: FunctionsRouterDeps): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  const region = deps.config.region;
  const isAdmin = (res: { locals: Record<string, unknown> }) => res.locals.admin === true;
  /** Whether the label names a folder function (they win: a deployed function cannot take a folder function's name), or only those are served. */
  const isFolderCall = (req: Request) => !deps.deployments || deps.registry.isFolderFunction(parseFunctionName(req.params.functionName as string).name);

  router.get(['/2015-03-31/functions', '/2015-03-31/functions/'], async (req, res) => {
    const allVersions = req.query.FunctionVersion === 'ALL';
    if (req.query.FunctionVersion !== undefined && !allVersions) {
      throw new InvoqError(
        'INVALID_PARAMETER',
        "1 validation error detected: Value at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]",
      );
    }
    const includeEnvironment = isAdmin(res);
    const at = now();
    type Entry = { key: string; describe: () => object };
    const entries: Entry[] = deps.registry.folderFunctions().map((fn) => ({ key: fn.name, describe: () => describeFunction(fn, { includeEnvironment }) }));
    const deployed: DeployedFunction[] = deps.deployments ? await deps.deployments.list() : [];
    for (const fn of deployed) {
      const records = allVersions ? [fn.latest, ...Object.values(fn.versions)] : [fn.latest];
      for (const record of records) {
        entries.push({
          key: allVersions ? `${fn.name}:${record.version}` : fn.name,
          describe: () => describeDeployedVersion(fn, record, { region, now: at, includeEnvironment }),
        });
      }
    }
    // With versions a folder function's one entry is its `$LATEST`, too.
    if (allVersions) for (const entry of entries) if (!entry.key.includes(':')) entry.key = `${entry.key}:$LATEST`;
    entries.sort((a, b) => compareEntryKeys(a.key, b.key));
    const { page, nextMarker } = listPage(req, entries, (e) => e.key, compareEntryKeys);
    res.json({ Functions: page.map((e) => e.describe()), NextMarker: nextMarker });
  });

  router.get('/2015-03-31/functions/:functionName', async (req, res) => {
    if (isFolderCall(req)) {
      const fn = deps.registry.resolve(req.params.functionName, qualifierOf(req));
      res.json({
        Configuration: describeFunction(fn, { includeEnvironment: isAdmin(res) }),
        Code: { RepositoryType: 'S3', Location: '' },
        ...(fn.config.reservedConcurrency === undefined ? {} : { Concurrency: { ReservedConcurrentExecutions: fn.config.reservedConcurrency } }),
      });
      return;
    }
    const at = now();
    const { fn, record, parsed } = await resolveDeployed(deps.deployments!, parseFunctionName(req.params.functionName, qualifierOf(req)), region);
    // A URL on the invoq that answered, as the caller reached it (none without a store to serve it from).
    const location = deps.functionStore
      ? `${req.protocol}://${req.get('host')}${signedCodePath(await deps.functionStore.codeUrlKey(), fn.name, record.codeSha256, at)}`
      : '';
    res.json({
      Configuration: describeDeployedVersion(fn, record, { region, now: at, includeEnvironment: isAdmin(res), arnQualifier: parsed.qualifier }),
      Code: { RepositoryType: 'S3', Location: location },
      // Lambda leaves both out when there are none.
      ...(Object.keys(fn.tags).length === 0 ? {} : { Tags: { ...fn.tags } }),
      ...(fn.reservedConcurrency === undefined ? {} : { Concurrency: { ReservedConcurrentExecutions: fn.reservedConcurrency } }),
    });
  });

  router.get('/2015-03-31/functions/:functionName/configuration', async (req, res) => {
    if (isFolderCall(req)) {
      res.json(describeFunction(deps.registry.resolve(req.params.functionName, qualifierOf(req)), { includeEnvironment: isAdmin(res) }));
      return;
    }
    const { fn, record, parsed } = await resolveDeployed(deps.deployments!, parseFunctionName(req.params.functionName, qualifierOf(req)), region);
    res.json(describeDeployedVersion(fn, record, { region, now: now(), includeEnvironment: isAdmin(res), arnQualifier: parsed.qualifier }));
  });

  return router;
}
