/**
 * True when the process was started with `flag` (as `--flag=value` or `--flag value`), on its
 * command line or in NODE_OPTIONS: an operator's own choice, which invoq leaves alone.
 */
export function isNodeFlagGiven(flag: string, execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  return [...execArgv, ...nodeOptions.split(/\s+/)].some((arg) => arg === flag || arg.startsWith(`${flag}=`));
}
