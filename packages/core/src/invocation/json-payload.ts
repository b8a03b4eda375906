import { InvoqError } from '../errors';

/**
 * Throws `InvalidRequestContentException` unless `payload` is JSON (or empty, which is `{}`).
 * Sync bodies are normally parsed in the execution environment, off the API's thread; this is
 * for the places where that is not enough.
 */
export function checkJsonPayload(payload: string): void {
  if (payload.length === 0) return;
  try {
    JSON.parse(payload);
  } catch (e) {
    throw new InvoqError('INVALID_REQUEST_CONTENT', `Could not parse request body into json: ${(e as Error).message}`);
  }
}
