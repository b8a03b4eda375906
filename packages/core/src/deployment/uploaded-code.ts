/** A zip handed to CreateFunction or UpdateFunctionCode, checked and extracted before it is stored. */
import { createHash } from 'node:crypto';
import { InvoqError } from '../errors';
import { LAMBDA_CODE_LIMITS } from './code-archive';
import { handlerFormatIssue } from '../functions/function-schema';
import { handlerModuleNames, locateHandler } from '../functions/handler-location';
import { runtimeFamily } from '../functions/runtimes';

const UNZIPPED_LIMIT = LAMBDA_CODE_LIMITS.maxUnzippedBytes;

export type PrepareCode = (sha256: string, zip: Buffer) => Promise<string>;

/** A zip ready to store: its hash (Lambda's CodeSha256), and the folder its code was extracted to. */
export interface PreparedCode {
  sha256: string;
  zip: Buffer;
  directory: string;
}

/** Refused before anything else is done with it, as Lambda refuses the request. */
export function checkZipSize(zip: Buffer, maxZippedBytes: number): void {
  if (zip.length > maxZippedBytes) {
    throw new InvoqError('PAYLOAD_TOO_LARGE', `Request must be smaller than ${maxZippedBytes} bytes for the UpdateFunctionCode and CreateFunction operations`);
  }
}

/** Hashes and extracts a zip; with `handler`, checks it as `checkHandler` does. */
export async function prepareUpload(prepareCode: PrepareCode, zip: Buffer, handler?: { runtime: string; handler: string }): Promise<PreparedCode> {
  const sha256 = createHash('sha256').update(zip).digest('base64');
  const directory = await codeDirectory(prepareCode, sha256, zip);
  if (handler !== undefined) checkHandler(directory, handler.runtime, handler.handler);
  return { sha256, zip, directory };
}

/** The folder of a zip's extracted code; a zip that cannot be extracted is the caller's error. */
export async function codeDirectory(prepareCode: PrepareCode, sha256: string, zip: Buffer): Promise<string> {
  try {
    return await prepareCode(sha256, zip);
  } catch (e) {
    // Matched by name: the archive's error class lives with the code cache, which may be another build's.
    if (e instanceof Error && e.name === 'CodeArchiveError') {
      // Lambda's own words for code too large once unzipped (the zipped size was checked before).
      const tooLarge = (e as Error & { kind?: string }).kind === 'too-large';
      throw new InvoqError(
        'INVALID_PARAMETER',
        tooLarge ? `Unzipped size must be smaller than ${UNZIPPED_LIMIT} bytes. ${e.message}` : `Could not unzip uploaded file. ${e.message}`,
      );
    }
    throw e;
  }
}

/**
 * A Node handler's module must be in the code (the thread or process runtime loads it). A Python
 * handler must be `module.function`, but its module is not looked for, nor a custom runtime's
 * `bootstrap`: as in Lambda, a missing one fails the invocation (Runtime.ImportModuleError,
 * Runtime.InvalidEntrypoint), not the deployment.
 */
export function checkHandler(directory: string, runtime: string, handler: string): void {
  const family = runtimeFamily(runtime);
  if (family === 'python') {
    const issue = handlerFormatIssue(runtime, handler);
    if (issue) throw new InvoqError('INVALID_PARAMETER', `The handler ${handler} of a ${runtime} function ${issue}`);
  }
  if (family === 'nodejs' && !locateHandler(directory, handler)) {
    throw new InvoqError(
      'INVALID_PARAMETER',
      `The handler ${handler} cannot be found in the function's code: no module ${handlerModuleNames(handler)} in the zip`,
    );
  }
}
