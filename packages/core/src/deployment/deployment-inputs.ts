/** What the management calls take, once their HTTP shape is parsed (see management-requests.ts). */
export interface CreateFunctionInput {
  name: string;
  runtime: string;
  role: string;
  handler: string;
  zipFile: Buffer;
  description?: string;
  timeout?: number;
  memorySize?: number;
  environment?: Record<string, string>;
  publish?: boolean;
  tags?: Record<string, string>;
}
export interface ConfigurationPatch {
  runtime?: string;
  role?: string;
  handler?: string;
  description?: string;
  timeout?: number;
  memorySize?: number;
  environment?: Record<string, string>;
}
export interface AliasInput {
  name: string;
  functionVersion: string;
  description?: string;
  additionalVersionWeights?: Record<string, number>;
}
