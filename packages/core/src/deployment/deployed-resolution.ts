import { createHash } from 'node:crypto';
import { functionSchema } from '../functions/function-schema';
import { locateHandler } from '../functions/handler-location';
import { functionArn, type ResolvedFunction } from '../functions/resolved-function';
import type { DeployedFunction, VersionRecord } from './deployed-function';

/**
 * One version of a deployed function as the executor runs it: the same shape as a folder
 * function, its configuration passed through `function.json`'s schema so both get the same
 * defaults (circuit breaker, Lambda's async policy), its code in `directory`. Undefined when the
 * handler's module is not in the code, or the configuration does not pass the schema (both
 * refused at deploy time, so only a hand-edited Redis).
 */
export function resolveDeployedVersion(fn: DeployedFunction, record: VersionRecord, directory: string, region: string): ResolvedFunction | undefined {
  const location = locateHandler(directory, record.handler);
  if (!location) return undefined;
  const parsed = functionSchema.safeParse({
    handler: record.handler,
    runtime: 'nodejs',
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
    executionKey: executionKeyOf(fn.name, record),
    arn: functionArn(fn.name, region),
    directory,
    config: parsed.data,
    handlerFile: location.file,
    handlerExport: location.exportPath,
    timeoutMs: Math.round(record.timeout * 1000),
  };
}

/** New code or a new configuration to run it with gets environments of its own; a tag or a new RevisionId alone does not. */
function executionKeyOf(name: string, record: VersionRecord): string {
  const { codeSha256, runtime, handler, timeout, memorySize, environment } = record;
  const digest = createHash('sha256')
    .update(JSON.stringify([codeSha256, runtime, handler, timeout, memorySize, environment]))
    .digest('base64url');
  return `${name}:${record.version}:${digest.slice(0, 16)}`;
}
