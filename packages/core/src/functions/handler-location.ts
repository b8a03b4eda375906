import fs from 'node:fs';
import path from 'node:path';

/** The module extensions a Node handler may have, in the order they are looked for. */
export const HANDLER_EXTENSIONS = ['.js', '.cjs', '.mjs'];

export interface HandlerLocation {
  /** Absolute path of the handler's module. */
  file: string;
  /** Where the handler is inside its module: `handler`, or a nested `a.b.handler`. */
  exportPath: string;
}

/**
 * Finds a Node handler (`file.export`) inside `directory`, as Lambda reads `src/index.a.handler`:
 * the module is `src/index`, up to the first dot of the last path segment, and the rest is the
 * handler's path inside it (here `a.handler`). Undefined when no such module lies inside
 * `directory` (a handler naming `../x` is not inside).
 */
export function locateHandler(directory: string, handler: string): HandlerLocation | undefined {
  const root = path.resolve(directory);
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  if (dot < 0) return undefined;
  const base = handler.slice(0, dot);
  const file = HANDLER_EXTENSIONS.map((ext) => path.resolve(root, base + ext)).find((f) => f.startsWith(root + path.sep) && fs.existsSync(f));
  return file === undefined ? undefined : { file, exportPath: handler.slice(dot + 1) };
}

/** What a missing handler module is called in errors: `src/index{.js,.cjs,.mjs}`. */
export function handlerModuleNames(handler: string): string {
  const slash = handler.lastIndexOf('/');
  const dot = handler.indexOf('.', slash + 1);
  return `${dot < 0 ? handler : handler.slice(0, dot)}{${HANDLER_EXTENSIONS.join(',')}}`;
}
