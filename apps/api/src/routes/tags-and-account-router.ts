import { Router, type Request } from 'express';
import {
  InvoqError,
  parseFunctionName,
  parseTagResource,
  type DeployedFunction,
  type FunctionDeployments,
  type FunctionRegistry,
  type ResolvedConfig,
} from '@invoq/core';
import { requireAdmin } from '../http/auth';
import { requireDeployed } from './deployed-lookup';

export interface TagsAndAccountRouterDeps {
  registry: FunctionRegistry;
  deployments?: FunctionDeployments;
  config: Pick<ResolvedConfig, 'region' | 'maxCodeBytes' | 'maxEnvironments'>;
}

const TAGS = '/2017-03-31/tags/:resource';
/** Lambda's account limits invoq keeps: total code storage and the unzipped size. */
const TOTAL_CODE_SIZE_LIMIT = 80_530_636_800;
const CODE_SIZE_UNZIPPED_LIMIT = 262_144_000;

/** A tag call's `Resource`: a function's ARN, unqualified (Lambda keeps tags per function, not per version or alias). */
function taggedName(req: Request): string {
  const resource = req.params.resource as string;
  const parsed = parseFunctionName(resource);
  if (!resource.startsWith('arn:')) {
    throw new InvoqError(
      'INVALID_PARAMETER',
      `1 validation error detected: Value '${resource.slice(0, 140)}' at 'resource' failed to satisfy constraint: Member must be a function ARN`,
    );
  }
  if (parsed.qualifiedInName)
    throw new InvoqError('INVALID_PARAMETER', 'Tags on function aliases and versions are not supported. Please specify a function ARN.');
  return parsed.name;
}

/** TagResource, UntagResource, ListTags (admin keys) and GetAccountSettings (any key). */
export function createTagsAndAccountRouter(deps: TagsAndAccountRouterDeps): Router {
  const router = Router();
  const { registry, config } = deps;
  const deployedList = async (): Promise<DeployedFunction[]> => (deps.deployments ? deps.deployments.list() : []);

  if (deps.deployments) {
    const deployments = deps.deployments;
    router.post(TAGS, requireAdmin, async (req, res) => {
      const name = taggedName(req);
      await deployments.tag(name, parseTagResource(Buffer.isBuffer(req.body) ? req.body : undefined));
      res.status(204).end();
    });
    router.delete(TAGS, requireAdmin, async (req, res) => {
      const name = taggedName(req);
      const raw = req.query.tagKeys;
      const keys = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((k): k is string => typeof k === 'string');
      if (keys.length === 0)
        throw new InvoqError('INVALID_PARAMETER', "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must not be null");
      await deployments.untag(name, keys);
      res.status(204).end();
    });
    router.get(TAGS, requireAdmin, async (req, res) => {
      const name = taggedName(req);
      // A folder function has no tags (function.json has none to give).
      const tags = registry.folderFunction(name) ? {} : (await requireDeployed(deployments, name, config.region)).tags;
      res.json({ Tags: { ...tags } });
    });
  }

  router.get(['/2016-08-19/account-settings', '/2016-08-19/account-settings/'], async (_req, res) => {
    const folder = registry.folderFunctions();
    const deployed = await deployedList();
    const reserved =
      folder.reduce((sum, fn) => sum + (fn.config.reservedConcurrency ?? 0), 0) + deployed.reduce((sum, fn) => sum + (fn.reservedConcurrency ?? 0), 0);
    // Every version's code counts, as Lambda's storage does.
    const codeBytes = deployed.reduce((sum, fn) => sum + fn.latest.codeSize + Object.values(fn.versions).reduce((s, v) => s + v.codeSize, 0), 0);
    res.json({
      AccountLimit: {
        TotalCodeSize: TOTAL_CODE_SIZE_LIMIT,
        CodeSizeUnzipped: CODE_SIZE_UNZIPPED_LIMIT,
        CodeSizeZipped: config.maxCodeBytes,
        ConcurrentExecutions: config.maxEnvironments,
        UnreservedConcurrentExecutions: Math.max(0, config.maxEnvironments - reserved),
      },
      AccountUsage: { TotalCodeSize: codeBytes, FunctionCount: folder.length + deployed.length },
    });
  });

  return router;
}
