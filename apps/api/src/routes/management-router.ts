import { Router, type Request } from 'express';
import {
  InvoqError,
  describeAlias,
  describeDeployedVersion,
  describeFunction,
  functionArn,
  parseCreateAlias,
  parseCreateFunction,
  parseFunctionName,
  parsePublishVersion,
  parsePutFunctionConcurrency,
  parseUpdateAlias,
  parseUpdateFunctionCode,
  parseUpdateFunctionConfiguration,
  type DeployedFunction,
  type FunctionDeployments,
  type FunctionRegistry,
  type VersionRecord,
} from '@invoq/core';
import { requireAdmin } from '../http/auth';
import { listPage } from '../http/list-page';
import { qualifierOf, requireDeployed, unqualifiedName } from './deployed-lookup';

export interface ManagementRouterDeps {
  registry: FunctionRegistry;
  deployments: FunctionDeployments;
  config: { region: string };
  now?: () => number;
}

const FUNCTION = '/2015-03-31/functions/:functionName';
const body = (req: Request) => (Buffer.isBuffer(req.body) ? req.body : undefined);
const byVersionNumber = (a: string, b: string) => (a === '$LATEST' ? -1 : b === '$LATEST' ? 1 : Number(a) - Number(b));

/**
 * Lambda's management calls on deployed functions (CreateFunction and the rest) in Lambda's
 * HTTP shapes, all for admin keys only: they change what runs, and their reads show
 * `Environment`, which can hold secrets. The semantics are `FunctionDeployments`'; this is the
 * wire. GetFunction, GetFunctionConfiguration and ListFunctions are `createFunctionsRouter`'s,
 * open to any key as before.
 */
export function createManagementRouter(deps: ManagementRouterDeps): Router {
  const router = Router();
  const { deployments, registry } = deps;
  const region = deps.config.region;
  const now = deps.now ?? Date.now;
  const describe = (fn: DeployedFunction, record: VersionRecord) => describeDeployedVersion(fn, record, { region, now: now(), includeEnvironment: true });
  /** A create or code update with `Publish` answers the version it published, as Lambda does. */
  const describePublished = (fn: DeployedFunction, publish: boolean | undefined) => {
    const newest = fn.versions[String(fn.nextVersion - 1)];
    return describe(fn, publish && newest ? newest : fn.latest);
  };
  const nameOf = (req: Request) => unqualifiedName(req.params.functionName as string);
  const aliasOf = (req: Request) => req.params.aliasName as string;
  const aliasNotFound = (name: string, alias: string) => new InvoqError('NOT_FOUND', `Alias not found: ${functionArn(name, region)}:${alias}`);

  router.post(['/2015-03-31/functions', '/2015-03-31/functions/'], requireAdmin, async (req, res) => {
    const input = parseCreateFunction(body(req));
    res.status(201).json(describePublished(await deployments.create(input), input.publish));
  });

  router.put(`${FUNCTION}/code`, requireAdmin, async (req, res) => {
    const input = parseUpdateFunctionCode(body(req));
    res.json(describePublished(await deployments.updateCode(nameOf(req), input), input.publish));
  });

  router.put(`${FUNCTION}/configuration`, requireAdmin, async (req, res) => {
    const fn = await deployments.updateConfiguration(nameOf(req), parseUpdateFunctionConfiguration(body(req)));
    res.json(describe(fn, fn.latest));
  });

  router.delete(FUNCTION, requireAdmin, async (req, res) => {
    const { name, qualifier } = parseFunctionName(req.params.functionName as string, qualifierOf(req));
    await deployments.delete(name, qualifier);
    res.status(204).end();
  });

  router.post(`${FUNCTION}/versions`, requireAdmin, async (req, res) => {
    const { fn, version } = await deployments.publishVersion(nameOf(req), parsePublishVersion(body(req)));
    res.status(201).json(describe(fn, version));
  });

  router.get(`${FUNCTION}/versions`, requireAdmin, async (req, res) => {
    const name = nameOf(req);
    const folder = registry.folderFunction(name);
    // A folder function has only `$LATEST`. Listed versions name themselves in their ARN, `$LATEST` too.
    const versions: Array<{ Version: string; FunctionArn: string }> = [];
    if (folder) versions.push({ ...describeFunction(folder, { includeEnvironment: true }), FunctionArn: `${folder.arn}:$LATEST` });
    else {
      const fn = await requireDeployed(deployments, name, region);
      for (const record of [fn.latest, ...Object.values(fn.versions)]) {
        versions.push(describeDeployedVersion(fn, record, { region, now: now(), includeEnvironment: true, arnQualifier: record.version }));
      }
    }
    versions.sort((a, b) => byVersionNumber(a.Version, b.Version));
    const { page, nextMarker } = listPage(req, versions, (v) => v.Version, byVersionNumber);
    res.json({ Versions: page, NextMarker: nextMarker });
  });

  router.post(`${FUNCTION}/aliases`, requireAdmin, async (req, res) => {
    const name = nameOf(req);
    const alias = await deployments.createAlias(name, parseCreateAlias(body(req)));
    res.status(201).json(describeAlias(await requireDeployed(deployments, name, region), alias, region));
  });

  router.get(`${FUNCTION}/aliases`, requireAdmin, async (req, res) => {
    const name = nameOf(req);
    const fn = registry.folderFunction(name) ? undefined : await requireDeployed(deployments, name, region);
    const version = typeof req.query.FunctionVersion === 'string' ? req.query.FunctionVersion : undefined;
    const aliases = Object.values(fn?.aliases ?? {})
      .filter((a) => version === undefined || a.functionVersion === version || a.additionalVersionWeights[version] !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name));
    const { page, nextMarker } = listPage(
      req,
      aliases,
      (a) => a.name,
      (a, b) => a.localeCompare(b),
    );
    res.json({ Aliases: fn ? page.map((a) => describeAlias(fn, a, region)) : [], NextMarker: nextMarker });
  });

  router.get(`${FUNCTION}/aliases/:aliasName`, requireAdmin, async (req, res) => {
    const name = nameOf(req);
    const fn = registry.folderFunction(name) ? undefined : await requireDeployed(deployments, name, region);
    const alias = fn?.aliases[aliasOf(req)];
    if (!fn || !alias) throw aliasNotFound(name, aliasOf(req));
    res.json(describeAlias(fn, alias, region));
  });

  router.put(`${FUNCTION}/aliases/:aliasName`, requireAdmin, async (req, res) => {
    const name = nameOf(req);
    const alias = await deployments.updateAlias(name, aliasOf(req), parseUpdateAlias(body(req)));
    res.json(describeAlias(await requireDeployed(deployments, name, region), alias, region));
  });

  router.delete(`${FUNCTION}/aliases/:aliasName`, requireAdmin, async (req, res) => {
    await deployments.deleteAlias(nameOf(req), aliasOf(req));
    res.status(204).end();
  });

  router.put('/2017-10-31/functions/:functionName/concurrency', requireAdmin, async (req, res) => {
    const reserved = await deployments.putConcurrency(nameOf(req), parsePutFunctionConcurrency(body(req)));
    res.json({ ReservedConcurrentExecutions: reserved });
  });

  router.get('/2019-09-30/functions/:functionName/concurrency', requireAdmin, async (req, res) => {
    const name = nameOf(req);
    // A folder function's comes from its function.json; Lambda answers `{}` when none is set.
    const folder = registry.folderFunction(name);
    const reserved = folder ? folder.config.reservedConcurrency : (await requireDeployed(deployments, name, region)).reservedConcurrency;
    res.json(reserved === undefined ? {} : { ReservedConcurrentExecutions: reserved });
  });

  // No function here has a code signing config (CreateFunction refuses one). Terraform reads
  // this after every create and plan, and only a "none" lets it go on.
  router.get('/2020-06-30/functions/:functionName/code-signing-config', async (req, res) => {
    const name = nameOf(req);
    if (!registry.folderFunction(name)) await requireDeployed(deployments, name, region);
    res.json({ CodeSigningConfigArn: '', FunctionName: name });
  });

  router.delete('/2017-10-31/functions/:functionName/concurrency', requireAdmin, async (req, res) => {
    await deployments.deleteConcurrency(nameOf(req));
    res.status(204).end();
  });

  return router;
}
