import type { ParsedFunction } from './function-schema';

/**
 * A function ready to run: a folder function (`function.json` validated and defaulted), or one
 * version of a deployed function (its code extracted), its handler located.
 */
export interface ResolvedFunction {
  name: string;
  /** `$LATEST`, or a deployed function's published version (`"1"`, …): what runs, `X-Amz-Executed-Version`. */
  version: string;
  /** Where it comes from: a folder in INVOQ_FUNCTIONS_DIR, or Lambda's management API. */
  source: 'folder' | 'deployed';
  /**
   * What its execution environments are pooled by: the name for a folder function; for a
   * deployed one its version and revision, so a change never runs on an environment of the old
   * code or configuration.
   */
  executionKey: string;
  /** `arn:aws:lambda:<region>:<account>:function:<name>` (INVOQ_REGION; the account is a placeholder). */
  arn: string;
  directory: string;
  config: ParsedFunction;
  /** Absolute path of the handler module: Node runtimes only (thread or process); undefined for Python, custom runtimes and `http`. */
  handlerFile: string | undefined;
  /** Where the handler is inside its module (Node only): `handler`, or a nested `a.b.handler`. */
  handlerExport: string | undefined;
  timeoutMs: number;
}

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '000000000000';

export function functionArn(name: string, region = DEFAULT_REGION): string {
  return `arn:aws:lambda:${region}:${DEFAULT_ACCOUNT_ID}:function:${name}`;
}
