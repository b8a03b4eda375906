import fs from 'node:fs';
import path from 'node:path';
import { FUNCTION_NAME_PATTERN, functionSchema } from './function-schema';
import { handlerModuleNames, locateHandler } from './handler-location';
import { DEFAULT_REGION, functionArn, type ResolvedFunction } from './resolved-function';
import { runtimeFamily } from './runtimes';

/** A bad function definition: the message names the file and the field. */
export class FunctionDefinitionError extends Error {
  override readonly name = 'FunctionDefinitionError';
}

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
  const family = runtimeFamily(config.runtime);
  if (family === 'nodejs' && config.handler) {
    const location = locateHandler(directory, config.handler);
    if (!location) {
      throw new FunctionDefinitionError(`${file}: field "handler" names ${handlerModuleNames(config.handler)}, which does not exist in ${directory}`);
    }
    handlerFile = location.file;
    handlerExport = location.exportPath;
  } else if (family === 'python' && config.handler && !locatePythonModule(directory, config.handler)) {
    throw new FunctionDefinitionError(`${file}: field "handler" names the module ${pythonModuleNames(config.handler)}, which does not exist in ${directory}`);
  } else if (family === 'provided') {
    checkBootstrap(file, directory, config.runtime);
  }
  return {
    name,
    version: '$LATEST',
    source: 'folder',
    executionKey: name,
    arn: functionArn(name, region),
    directory,
    config,
    handlerFile,
    handlerExport,
    timeoutMs: Math.round(config.timeout * 1000),
  };
}

/** A custom runtime runs the folder's `bootstrap`, as Lambda does: it must be there and executable. */
function checkBootstrap(file: string, directory: string, runtime: string): void {
  const bootstrap = path.join(directory, 'bootstrap');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(bootstrap);
  } catch {
    throw new FunctionDefinitionError(`${file}: runtime "${runtime}" runs ${bootstrap}, which does not exist`);
  }
  if (!stat.isFile()) throw new FunctionDefinitionError(`${file}: runtime "${runtime}" runs ${bootstrap}, which is not a file`);
  try {
    fs.accessSync(bootstrap, fs.constants.X_OK);
  } catch {
    throw new FunctionDefinitionError(`${file}: runtime "${runtime}" runs ${bootstrap}, which is not executable (chmod +x bootstrap)`);
  }
}

/**
 * The candidate files of a Python handler's module (`pkg.app.handler`: `pkg/app.py`, then
 * `pkg/app/__init__.py`), as awslambdaric imports it: the module is everything before the last
 * dot, a `/` in it read as a dot.
 */
function pythonModuleCandidates(handler: string): string[] {
  const base = handler.slice(0, handler.lastIndexOf('.')).replaceAll('/', '.').split('.').join('/');
  return [`${base}.py`, `${base}/__init__.py`];
}

/** Whether a Python handler's module is a file inside `directory`. */
function locatePythonModule(directory: string, handler: string): boolean {
  const root = path.resolve(directory);
  return pythonModuleCandidates(handler).some((candidate) => {
    const file = path.resolve(root, candidate);
    return file.startsWith(root + path.sep) && fs.statSync(file, { throwIfNoEntry: false })?.isFile() === true;
  });
}

/** What a missing Python module is called in errors: `pkg/app.py or pkg/app/__init__.py`. */
function pythonModuleNames(handler: string): string {
  return pythonModuleCandidates(handler).join(' or ');
}
