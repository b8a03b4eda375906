import { InvoqError } from '../errors';
import { parseFunctionName } from './function-name';
import { functionArn, type ResolvedFunction } from './resolved-function';

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
    const { name, qualifier: effectiveQualifier } = parseFunctionName(functionName, qualifier);
    const fn = this.byName.get(name);
    if (!fn || (effectiveQualifier !== undefined && effectiveQualifier !== '$LATEST')) {
      const suffix = effectiveQualifier ?? '$LATEST';
      throw new InvoqError('FUNCTION_NOT_FOUND', `Function not found: ${functionArn(name, this.region)}:${suffix}`);
    }
    return fn;
  }
}
