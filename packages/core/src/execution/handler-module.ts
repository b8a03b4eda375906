/**
 * Loads a function's handler in its environment thread, with the errors Lambda's Node.js runtime
 * gives for a failed init (aws-lambda-nodejs-runtime-interface-client: UserFunction.js).
 */
import { pathToFileURL } from 'node:url';
import type { FunctionError } from '../errors';
import { toFunctionError } from './function-error';
import type { Handler } from './node-handler-contract';

/** An init failure: the environment answers with `error` and is then discarded. */
export class InitError extends Error {
  constructor(readonly error: FunctionError) {
    super(error.errorMessage);
  }
}

/**
 * CommonJS through `require` (the ESM loader costs ~10 ms more on a cold start), ES modules
 * (`.mjs`, or `.js` under `"type": "module"`) through `import()`.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  if (!file.endsWith('.mjs')) {
    try {
      // Lambda loads a CommonJS handler with require(), and so do we (synchronously, its errors as they are).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(file) as Record<string, unknown>;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw e;
    }
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

const MISSING_MODULE = /Cannot find (?:module|package) '([^']+)'/;

/** Lambda's runtimes ship the AWS SDK; invoq's does not, so say where it has to come from. */
function missingModuleHint(message: string): string {
  const name = MISSING_MODULE.exec(message)?.[1];
  if (!name || !/^(@aws-sdk\/|aws-sdk$)/.test(name)) return '';
  return `\ninvoq's runtime does not include the AWS SDK, as Lambda's does: install ${name} with the function (in its folder or a node_modules folder above it), or bundle it.`;
}

/** Lambda's init error for what loading the module threw. */
function initErrorOf(e: unknown): FunctionError {
  const code = (e as { code?: string } | null)?.code;
  if (e instanceof SyntaxError) {
    return { ...toFunctionError(e), errorType: 'Runtime.UserCodeSyntaxError', errorMessage: String(e) };
  }
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    const message = String(e);
    return { ...toFunctionError(e), errorType: 'Runtime.ImportModuleError', errorMessage: message + missingModuleHint(message) };
  }
  // Anything else the module threw at its top level is reported as itself, as in Lambda.
  return toFunctionError(e);
}

/**
 * Imports `file` and finds `handlerPath` in it: `handler`, or a nested `a.b.handler`, as
 * Lambda resolves `index.a.b.handler`. Throws `InitError`.
 */
export async function loadHandler(file: string, handlerPath: string, handlerSetting: string): Promise<Handler> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file);
  } catch (e) {
    throw new InitError(initErrorOf(e));
  }
  const find = (root: unknown) => handlerPath.split('.').reduce<unknown>((nested, key) => (nested as Record<string, unknown> | undefined)?.[key], root);
  // A CommonJS module imported as ESM shows its exports under `default` as well.
  const fn = find(mod) ?? find(mod.default);
  if (fn === undefined || fn === null) {
    throw new InitError({ errorType: 'Runtime.HandlerNotFound', errorMessage: `${handlerSetting} is undefined or not exported`, trace: [] });
  }
  if (typeof fn !== 'function') {
    throw new InitError({ errorType: 'Runtime.HandlerNotFound', errorMessage: `${handlerSetting} is not a function`, trace: [] });
  }
  return fn as Handler;
}
