import { InvoqError } from '../errors';
import { FUNCTION_NAME_PATTERN } from './function-schema';
import { functionArn, type ResolvedFunction } from './resolved-function';

// Full ARN `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`,
// partial ARN `<account>:function:<name>[:<qualifier>]`, or `<name>[:<qualifier>]`.
const FULL_ARN = /^arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:([^:]+)(?::([^:]+))?$/;
const PARTIAL_ARN = /^\d{12}:function:([^:]+)(?::([^:]+))?$/;
const NAME = /^([^:]+)(?::([^:]+))?$/;

/** The loaded functions by name, and Lambda's rules for naming them. */
export class FunctionRegistry {
  private readonly byName: ReadonlyMap<string, ResolvedFunction>;

  /** @param region - the region of the ARNs in "not found" messages (INVOQ_REGION). */
  constructor(functions: readonly ResolvedFunction[], private readonly region?: string) {
    this.byName = new Map(functions.map((f) => [f.name, f]));
  }

  list(): ResolvedFunction[] {
    return [...this.byName.values()];
  }

  get(name: string): ResolvedFunction | undefined {
    return this.byName.get(name);
  }

  /**
   * Resolves a `FunctionName` path parameter (name, full or partial ARN) and an optional
   * `Qualifier`. Only `$LATEST` exists; anything else is not found, as in Lambda.
   */
  resolve(functionName: string, qualifier?: string): ResolvedFunction {
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
    const effectiveQualifier = derived ?? qualifier;
    const fn = this.byName.get(name);
    if (!fn || (effectiveQualifier !== undefined && effectiveQualifier !== '$LATEST')) {
      const suffix = effectiveQualifier ?? '$LATEST';
      throw new InvoqError('FUNCTION_NOT_FOUND', `Function not found: ${functionArn(name, this.region)}:${suffix}`);
    }
    return fn;
  }
}
