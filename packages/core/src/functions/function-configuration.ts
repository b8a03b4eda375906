import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { HOST_ARCHITECTURE } from '../deployment/management-requests';
import type { ResolvedFunction } from './resolved-function';

/** Lambda's `FunctionConfiguration`, as ListFunctions and GetFunction return it. */
export interface FunctionConfiguration {
  FunctionName: string;
  FunctionArn: string;
  Runtime: string;
  Role: string;
  Handler: string;
  CodeSize: number;
  Description: string;
  Timeout: number;
  MemorySize: number;
  LastModified: string;
  CodeSha256: string;
  Version: '$LATEST';
  State: 'Active';
  LastUpdateStatus: 'Successful';
  PackageType: 'Zip';
  Architectures: string[];
  Environment?: { Variables: Record<string, string> };
}

const codeFacts = new WeakMap<ResolvedFunction, { size: number; sha256: string; lastModified: string }>();

/** `2026-11-27T10:15:00.000+0000`: Lambda's format (a string, not epoch). */
export function lambdaTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

/** When the function's `function.json` last changed: its LastModified, here and in its event-invoke config. */
export function definitionModifiedAt(fn: ResolvedFunction): Date {
  return fs.statSync(`${fn.directory}/function.json`).mtime;
}

function factsOf(fn: ResolvedFunction) {
  let facts = codeFacts.get(fn);
  if (!facts) {
    const file = fn.handlerFile ?? `${fn.directory}/function.json`;
    const code = fs.readFileSync(file);
    facts = {
      size: code.length,
      sha256: createHash('sha256').update(code).digest('base64'),
      lastModified: lambdaTimestamp(definitionModifiedAt(fn)),
    };
    codeFacts.set(fn, facts);
  }
  return facts;
}

/**
 * Describes a function as Lambda does. `Environment` can hold secrets, so only callers with an
 * admin key see it.
 */
export function describeFunction(fn: ResolvedFunction, options: { includeEnvironment: boolean }): FunctionConfiguration {
  const facts = factsOf(fn);
  const config: FunctionConfiguration = {
    FunctionName: fn.name,
    FunctionArn: fn.arn,
    Runtime: fn.config.runtime === 'http' ? 'provided.http' : fn.config.runtime,
    Role: 'arn:aws:iam::000000000000:role/invoq',
    Handler: fn.config.handler ?? fn.config.url ?? '',
    CodeSize: facts.size,
    Description: fn.config.description ?? '',
    Timeout: fn.config.timeout,
    MemorySize: fn.config.memorySize,
    LastModified: facts.lastModified,
    CodeSha256: facts.sha256,
    Version: '$LATEST',
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: [HOST_ARCHITECTURE],
  };
  if (options.includeEnvironment) config.Environment = { Variables: { ...fn.config.environment } };
  return config;
}
