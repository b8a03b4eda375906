import fs from 'node:fs';
import path from 'node:path';
import { FUNCTION_NAME_PATTERN, functionSchema } from './function-schema';
import { DEFAULT_REGION, functionArn, type ResolvedFunction } from './resolved-function';

/** A bad function definition: the message names the file and the field. */
export class FunctionDefinitionError extends Error {
  override readonly name = 'FunctionDefinitionError';
}

const HANDLER_EXTENSIONS = ['.js', '.cjs', '.mjs'];

/**
 * Loads every `<dir>/<name>/function.json`. Throws `FunctionDefinitionError` naming the file
 * and field of the first bad definition, so a mistake stops the start instead of a request.
 */
export function loadFunctions(dir: string, options: { region?: string } = {}): ResolvedFunction[] {
  const functionsDir = path.resolve(dir);
  if (!fs.existsSync(functionsDir)) {
    throw new FunctionDefinitionError(`INVOQ_FUNCTIONS_DIR: ${functionsDir} does not exist`);
  }
  const functions: ResolvedFunction[] = [];
  for (const entry of fs.readdirSync(functionsDir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const directory = path.join(functionsDir, entry.name);
    const file = path.join(directory, 'function.json');
    if (!fs.existsSync(file)) continue;
    functions.push(loadFunction(entry.name, directory, file, options.region ?? DEFAULT_REGION));
  }
  return functions.sort((a, b) => a.name.localeCompare(b.name));
}

function loadFunction(name: string, directory: string, file: string, region: string): ResolvedFunction {
  if (!FUNCTION_NAME_PATTERN.test(name)) {
    throw new FunctionDefinitionError(`${file}: function name "${name}" must match ${FUNCTION_NAME_PATTERN}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new FunctionDefinitionError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const parsed = functionSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join('.') : '(root)';
    throw new FunctionDefinitionError(`${file}: field "${field}" ${issue?.message ?? 'is invalid'}`);
  }
  const config = parsed.data;
  let handlerFile: string | undefined;
  let handlerExport: string | undefined;
  if (config.runtime === 'nodejs' && config.handler) {
    // As Lambda reads `src/index.a.handler`: the module is `src/index`, up to the first dot of
    // the last path segment, and the rest is the handler's path inside it (here `a.handler`).
    const slash = config.handler.lastIndexOf('/');
    const dot = config.handler.indexOf('.', slash + 1);
    const base = config.handler.slice(0, dot);
    handlerExport = config.handler.slice(dot + 1);
    handlerFile = HANDLER_EXTENSIONS.map((ext) => path.resolve(directory, base + ext)).find((f) => fs.existsSync(f));
    if (!handlerFile || !handlerFile.startsWith(directory + path.sep)) {
      throw new FunctionDefinitionError(
        `${file}: field "handler" names ${base}{${HANDLER_EXTENSIONS.join(',')}}, which does not exist in ${directory}`,
      );
    }
  }
  return {
    name,
    arn: functionArn(name, region),
    directory,
    config,
    handlerFile,
    handlerExport,
    timeoutMs: Math.round(config.timeout * 1000),
  };
}
