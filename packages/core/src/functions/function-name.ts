import { InvoqError } from '../errors';
import { FUNCTION_NAME_PATTERN } from './function-schema';

// Full ARN `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`,
// partial ARN `<account>:function:<name>[:<qualifier>]`, or `<name>[:<qualifier>]`.
const FULL_ARN = /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:([^:]+)(?::([^:]+))?$/;
const PARTIAL_ARN = /^\d{12}:function:([^:]+)(?::([^:]+))?$/;
const NAME = /^([^:]+)(?::([^:]+))?$/;

/** A `FunctionName` path label, parsed: the function's name and the qualifier it or `?Qualifier=` carries. */
export interface ParsedFunctionName {
  name: string;
  /** From `name:qualifier` (or an ARN's tail), else the `Qualifier` given; undefined when neither. */
  qualifier: string | undefined;
  /** Whether the label itself carried the qualifier (a version or alias ARN, `name:1`). */
  qualifiedInName: boolean;
}

/**
 * Lambda's rules for a `FunctionName` path label (name, full or partial ARN, each with an optional
 * `:qualifier`) and an optional `Qualifier`: the one parser of them, for the registry and the
 * management API.
 */
export function parseFunctionName(functionName: string, qualifier?: string): ParsedFunctionName {
  const match = FULL_ARN.exec(functionName) ?? PARTIAL_ARN.exec(functionName) ?? NAME.exec(functionName);
  const name = match?.[1];
  if (!match || !name || !FUNCTION_NAME_PATTERN.test(name)) {
    throw new InvoqError(
      'INVALID_PARAMETER',
      `1 validation error detected: Value '${functionName.slice(0, 140)}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?`,
    );
  }
  const derived = match[2];
  if (derived !== undefined && qualifier !== undefined && derived !== qualifier) {
    throw new InvoqError('INVALID_PARAMETER', 'The derived qualifier from the function name does not match the specified qualifier.');
  }
  return { name, qualifier: derived ?? qualifier, qualifiedInName: derived !== undefined };
}
