import { InvoqError } from '../errors';
import { parseFunctionName } from './function-name';
import type { CatalogEntry } from '../deployment/deployed-catalog';
import { functionArn, type ResolvedFunction } from './resolved-function';

/** What the registry needs of the deployed functions (the `DeployedCatalog`). */
export interface DeployedFunctionsView {
  get(name: string): CatalogEntry | undefined;
  names(): string[];
}

const NO_DEPLOYED: DeployedFunctionsView = { get: () => undefined, names: () => [] };

/**
 * The functions this process serves by name: the folder functions it loaded at start and the
 * deployed ones the catalog keeps in step with Redis, and Lambda's rules for naming them and
 * their versions and aliases.
 */
export class FunctionRegistry {
  private readonly folder: ReadonlyMap<string, ResolvedFunction>;

  /**
   * @param region - the region of the ARNs in "not found" messages (INVOQ_REGION).
   * @param random - picks an alias's version by its weights (tests pass a seeded one).
   */
  constructor(
    functions: readonly ResolvedFunction[],
    private readonly region?: string,
    private readonly deployed: DeployedFunctionsView = NO_DEPLOYED,
    private readonly random: () => number = Math.random,
  ) {
    this.folder = new Map(functions.map((f) => [f.name, f]));
  }

  /** Every function's `$LATEST`, folder functions first. */
  list(): ResolvedFunction[] {
    const deployed: ResolvedFunction[] = [];
    for (const name of this.deployed.names()) {
      const latest = this.folder.has(name) ? undefined : this.deployed.get(name)?.versions.get('$LATEST');
      if (latest) deployed.push(latest);
    }
    return [...this.folder.values(), ...deployed];
  }

  names(): string[] {
    return this.list().map((f) => f.name);
  }

  /** A function's `$LATEST`. */
  get(name: string): ResolvedFunction | undefined {
    return this.folder.get(name) ?? this.deployed.get(name)?.versions.get('$LATEST');
  }

  /** The execution keys of every version served now (environments of any other are retired). */
  executionKeys(): Set<string> {
    const keys = new Set([...this.folder.values()].map((f) => f.executionKey));
    for (const name of this.deployed.names()) for (const fn of this.deployed.get(name)?.versions.values() ?? []) keys.add(fn.executionKey);
    return keys;
  }

  isFolderFunction(name: string): boolean {
    return this.folder.has(name);
  }

  /** A folder function (INVOQ_FUNCTIONS_DIR) by name: the ones Lambda's management API may read but not change. */
  folderFunction(name: string): ResolvedFunction | undefined {
    return this.folder.get(name);
  }

  folderFunctions(): ResolvedFunction[] {
    return [...this.folder.values()];
  }

  /** One version of a function (`$LATEST` or a published number), as an event names it; undefined when it is gone. */
  version(name: string, version: string): ResolvedFunction | undefined {
    if (version === '$LATEST') return this.get(name);
    return this.folder.has(name) ? undefined : this.deployed.get(name)?.versions.get(version);
  }

  /**
   * Resolves a `FunctionName` path parameter (name, full or partial ARN) and an optional
   * `Qualifier`: `$LATEST`, a published version, or an alias (a weighted one picks its version
   * here, per call). Folder functions have only `$LATEST`. Anything else is not found, as in Lambda.
   */
  resolve(functionName: string, qualifier?: string): ResolvedFunction {
    const { name, qualifier: effective } = parseFunctionName(functionName, qualifier);
    const notFound = () => new InvoqError('FUNCTION_NOT_FOUND', `Function not found: ${functionArn(name, this.region)}:${effective ?? '$LATEST'}`);
    if (effective === undefined || effective === '$LATEST') {
      const fn = this.get(name);
      if (!fn) throw notFound();
      return fn;
    }
    if (this.folder.has(name)) throw notFound();
    const entry = this.deployed.get(name);
    if (!entry) throw notFound();
    // Own keys only: the document is parsed JSON, and `__proto__` is a valid alias-shaped name.
    const alias = Object.hasOwn(entry.fn.aliases, effective) ? entry.fn.aliases[effective] : undefined;
    const version = alias ? this.pickAliasVersion(alias.functionVersion, alias.additionalVersionWeights) : effective;
    const fn = entry.versions.get(version);
    if (!fn || (!alias && !/^\d+$/.test(version))) throw notFound();
    return fn;
  }

  private pickAliasVersion(main: string, weights: Record<string, number>): string {
    let draw = this.random();
    for (const [version, weight] of Object.entries(weights)) {
      if (draw < weight) return version;
      draw -= weight;
    }
    return main;
  }
}
