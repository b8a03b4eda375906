/**
 * The checks Lambda makes on a management call's parameters, with its exceptions and wording.
 * Each throws an InvoqError; none reads Redis.
 */
import { InvoqError } from '../errors';
import { RESERVED_ENVIRONMENT_VARIABLES } from '../execution/lambda-environment';
import { FUNCTION_NAME_PATTERN } from '../functions/function-schema';
import { functionArn } from '../functions/resolved-function';
import { LAMBDA_RUNTIMES, type LambdaRuntime } from '../functions/runtimes';
import { ISOLATIONS, ISOLATION_TAG, type DeployedFunction } from './deployed-function';

const ENVIRONMENT_NAME = /^[a-zA-Z]([a-zA-Z0-9_])+$/;
const ALIAS_NAME = /^(?!^[0-9]+$)([a-zA-Z0-9-_]+)$/;
const ENVIRONMENT_MAX_BYTES = 4096;
const DESCRIPTION_MAX = 256;
const MAX_TAGS = 50;
export const MAX_RESERVED_CONCURRENCY = 1000;

const invalid = (message: string) => new InvoqError('INVALID_PARAMETER', message);

export function notFound(name: string, region: string, qualifier?: string): InvoqError {
  return new InvoqError('FUNCTION_NOT_FOUND', `Function not found: ${functionArn(name, region)}${qualifier === undefined ? '' : `:${qualifier}`}`);
}

export function aliasNotFound(name: string, region: string, alias: string): InvoqError {
  return new InvoqError('NOT_FOUND', `Alias not found: ${functionArn(name, region)}:${alias}`);
}

export function checkFunctionName(name: string): void {
  if (!FUNCTION_NAME_PATTERN.test(name))
    throw invalid(
      `1 validation error detected: Value '${name}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9-_]{1,64}$`,
    );
}

export function checkRuntime(runtime: string): LambdaRuntime {
  if (!(LAMBDA_RUNTIMES as readonly string[]).includes(runtime)) {
    throw invalid(`The runtime parameter of ${runtime} is not supported. Supported runtimes: ${LAMBDA_RUNTIMES.join(', ')}`);
  }
  return runtime as LambdaRuntime;
}

function checkRange(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(
      `1 validation error detected: Value '${value}' at '${what}' failed to satisfy constraint: Member must be an integer between ${min} and ${max}`,
    );
  }
}

export const checkTimeout = (timeout: number) => checkRange('timeout', timeout, 1, 900);
export const checkMemorySize = (memorySize: number) => checkRange('memorySize', memorySize, 128, 10_240);
export const checkConcurrency = (reserved: number) => checkRange('reservedConcurrentExecutions', reserved, 0, MAX_RESERVED_CONCURRENCY);

export function checkDescription(description: string): void {
  if (description.length > DESCRIPTION_MAX) throw invalid(`Description must be at most ${DESCRIPTION_MAX} characters`);
}

export function checkRole(role: string): void {
  if (role.length === 0) throw invalid('Role must not be empty');
}

export function checkEnvironment(environment: Record<string, string>): void {
  const names = Object.keys(environment);
  const malformed = names.filter((name) => !ENVIRONMENT_NAME.test(name));
  if (malformed.length > 0) throw invalid(`Environment variable names must match [a-zA-Z]([a-zA-Z0-9_])+: ${malformed.join(', ')}`);
  const reserved = names.filter((name) => RESERVED_ENVIRONMENT_VARIABLES.has(name));
  if (reserved.length > 0) {
    throw invalid(
      `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: ${reserved.join(', ')}`,
    );
  }
  if (Buffer.byteLength(JSON.stringify(environment)) > ENVIRONMENT_MAX_BYTES) {
    throw invalid('Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit.');
  }
}

export function checkTags(tags: Record<string, string>): void {
  if (Object.keys(tags).length > MAX_TAGS) throw invalid(`A function can have at most ${MAX_TAGS} tags`);
  for (const [key, value] of Object.entries(tags)) {
    if (key.length === 0 || key.length > 128 || value.length > 256) throw invalid(`Invalid tag: a key is 1–128 characters, a value at most 256: ${key}`);
  }
  const isolation = tags[ISOLATION_TAG];
  if (isolation !== undefined && !(ISOLATIONS as readonly string[]).includes(isolation)) {
    throw invalid(
      `Invalid tag ${ISOLATION_TAG}: ${JSON.stringify(isolation)}; the allowed values are ${ISOLATIONS.join(', ')} (how a Node function runs; the default is thread)`,
    );
  }
}

export function checkAliasName(alias: string): void {
  if (alias.length > 128 || !ALIAS_NAME.test(alias)) {
    throw invalid(
      `1 validation error detected: Value '${alias}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)`,
    );
  }
}

/** An alias's routing: a version that exists, and at most one other published version taking a share of 0–1. */
export function checkRouting(fn: DeployedFunction, region: string, functionVersion: string, weights: Record<string, number>): void {
  if (functionVersion !== '$LATEST' && !fn.versions[functionVersion]) throw notFound(fn.name, region, functionVersion);
  const extra = Object.entries(weights);
  if (extra.length === 0) return;
  if (extra.length > 1) throw invalid('An alias can route to at most one additional version');
  if (functionVersion === '$LATEST') throw invalid('$LATEST is not supported for an alias pointing to more than 1 version');
  const [version, weight] = extra[0]!;
  if (version === functionVersion) throw invalid(`The additional version ${version} must differ from the alias's function version`);
  if (version === '$LATEST') throw invalid('$LATEST is not supported for an alias pointing to more than 1 version');
  if (!fn.versions[version]) throw notFound(fn.name, region, version);
  if (!(weight >= 0 && weight <= 1)) throw invalid(`The weight of version ${version} must be between 0.0 and 1.0: ${weight}`);
}

/** A `RevisionId` given with a change must be the current one. */
export function checkRevision(given: string | undefined, current: string): void {
  if (given !== undefined && given !== current) {
    throw new InvoqError(
      'PRECONDITION_FAILED',
      'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
    );
  }
}

/** A change to `$LATEST` waits until the last one has settled, as Lambda's does. */
export function checkSettled(fn: DeployedFunction, region: string, now: number): void {
  if (now < fn.settlesAt) {
    throw new InvoqError(
      'RESOURCE_CONFLICT',
      `The operation cannot be performed at this time. An update is in progress for resource: ${functionArn(fn.name, region)}`,
    );
  }
}
