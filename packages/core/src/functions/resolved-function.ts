import type { ParsedFunction } from './function-schema';

/** A function ready to run: `function.json` validated and defaulted, its handler located. */
export interface ResolvedFunction {
  name: string;
  /** `arn:aws:lambda:<region>:<account>:function:<name>` (INVOQ_REGION; the account is a placeholder). */
  arn: string;
  directory: string;
  config: ParsedFunction;
  /** Absolute path of the handler module (nodejs runtime). */
  handlerFile: string | undefined;
  /** Where the handler is inside its module: `handler`, or a nested `a.b.handler`. */
  handlerExport: string | undefined;
  timeoutMs: number;
}

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '000000000000';

export function functionArn(name: string, region = DEFAULT_REGION): string {
  return `arn:aws:lambda:${region}:${DEFAULT_ACCOUNT_ID}:function:${name}`;
}
