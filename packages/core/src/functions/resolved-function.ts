import type { ParsedFunction } from './function-schema';

/** A function ready to run: `function.json` validated and defaulted, its handler located. */
export interface ResolvedFunction {
  name: string;
  /** `arn:aws:lambda:<region>:<account>:function:<name>` (region and account are placeholders). */
  arn: string;
  directory: string;
  config: ParsedFunction;
  /** Absolute path of the handler module (nodejs runtime). */
  handlerFile: string | undefined;
  /** Export name inside the handler module, e.g. `handler`. */
  handlerExport: string | undefined;
  timeoutMs: number;
}

export const DEFAULT_REGION = 'us-east-1';
export const DEFAULT_ACCOUNT_ID = '000000000000';

export function functionArn(name: string): string {
  return `arn:aws:lambda:${DEFAULT_REGION}:${DEFAULT_ACCOUNT_ID}:function:${name}`;
}
