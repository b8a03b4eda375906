import type { Request } from 'express';
import {
  InvoqError,
  functionArn,
  parseFunctionName,
  versionOf,
  type DeployedFunction,
  type FunctionDeployments,
  type ParsedFunctionName,
  type VersionRecord,
} from '@invoq/core';

/** `?Qualifier=`, when given once. */
export function qualifierOf(req: Request): string | undefined {
  const q = req.query.Qualifier;
  return typeof q === 'string' ? q : undefined;
}

/** Lambda's not-found answer: the unqualified ARN, or the qualifier asked for after it. */
export function functionNotFound(name: string, region: string, qualifier?: string): InvoqError {
  const arn = functionArn(name, region);
  return new InvoqError('FUNCTION_NOT_FOUND', `Function not found: ${qualifier === undefined ? arn : `${arn}:${qualifier}`}`);
}

/**
 * The `FunctionName` label of a call that changes a function or names it as a whole (aliases,
 * versions, concurrency): a name or ARN without a qualifier, as Lambda's model has it.
 */
export function unqualifiedName(label: string): string {
  const parsed = parseFunctionName(label);
  if (parsed.qualifiedInName) {
    throw new InvoqError('INVALID_PARAMETER', `This operation takes an unqualified function name or ARN, not '${label.slice(0, 140)}'`);
  }
  return parsed.name;
}

/** A deployed function or Lambda's not-found answer. */
export async function requireDeployed(deployments: FunctionDeployments, name: string, region: string): Promise<DeployedFunction> {
  const fn = await deployments.get(name);
  if (!fn) throw functionNotFound(name, region);
  return fn;
}

export interface DeployedTarget {
  fn: DeployedFunction;
  record: VersionRecord;
  parsed: ParsedFunctionName;
}

/** A deployed function's version named by a label and `?Qualifier=` (a version, an alias or `$LATEST`), or not found. */
export async function resolveDeployed(deployments: FunctionDeployments, parsed: ParsedFunctionName, region: string): Promise<DeployedTarget> {
  const fn = await deployments.get(parsed.name);
  const record = fn && versionOf(fn, parsed.qualifier);
  if (!fn || !record) throw functionNotFound(parsed.name, region, parsed.qualifier);
  return { fn, record, parsed };
}
