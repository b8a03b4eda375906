import { createHash } from 'node:crypto';
import { functionSchema } from '../functions/function-schema';
import { locateHandler } from '../functions/handler-location';
import { functionArn, type ResolvedFunction } from '../functions/resolved-function';
import { runtimeFamily, type Isolation } from '../functions/runtimes';
import { ISOLATIONS, ISOLATION_TAG, type DeployedFunction, type VersionRecord } from './deployed-function';

/**
 * One version of a deployed function as the executor runs it: the same shape as a folder
 * function, its configuration passed through `function.json`'s schema so both get the same
 * defaults (circuit breaker, Lambda's async policy), its code in `directory`. A Node version's
 * handler module is located (a thread or a Node process loads it); a Python or custom runtime's
 * code is not looked into: a missing module or `bootstrap` fails its invocations, as in Lambda.
 * Undefined when a Node handler's module is not in the code, or the configuration does not pass
 * the schema (both refused at deploy time, so only a hand-edited Redis).
 */
export function resolveDeployedVersion(fn: DeployedFunction, record: VersionRecord, directory: string, region: string): ResolvedFunction | undefined {
  const node = runtimeFamily(record.runtime) === 'nodejs';
  const location = node ? locateHandler(directory, record.handler) : undefined;
  if (node && !location) return undefined;
  const isolation = node ? isolationOf(fn) : undefined;
  const parsed = functionSchema.safeParse({
    handler: record.handler,
    runtime: record.runtime,
    isolation,
    description: record.description || undefined,
    timeout: record.timeout,
    memorySize: record.memorySize,
    environment: record.environment,
    reservedConcurrency: fn.reservedConcurrency,
  });
  if (!parsed.success) return undefined;
  return {
    name: fn.name,
    version: record.version,
    source: 'deployed',
    executionKey: executionKeyOf(fn.name, record, isolation),
    arn: functionArn(fn.name, region),
    directory,
    config: parsed.data,
    handlerFile: location?.file,
    handlerExport: location?.exportPath,
    timeoutMs: Math.round(record.timeout * 1000),
  };
}

/** A Node function's isolation, from its `invoq:isolation` tag (checked when tagged; anything else is the default, a thread). */
function isolationOf(fn: DeployedFunction): Isolation | undefined {
  const tag = fn.tags[ISOLATION_TAG];
  return ISOLATIONS.find((isolation) => isolation === tag);
}

/**
 * New code or a new configuration to run it with gets environments of its own; a tag or a new
 * RevisionId alone does not, except `invoq:isolation` turning a Node function's environments
 * into processes (or back to threads).
 */
function executionKeyOf(name: string, record: VersionRecord, isolation: Isolation | undefined): string {
  const { codeSha256, runtime, handler, timeout, memorySize, environment } = record;
  // A thread (the default) adds nothing, so a function's key is what it was before isolation existed.
  const runs = isolation === 'process' ? ['process'] : [];
  const digest = createHash('sha256')
    .update(JSON.stringify([codeSha256, runtime, handler, timeout, memorySize, environment, ...runs]))
    .digest('base64url');
  return `${name}:${record.version}:${digest.slice(0, 16)}`;
}
