import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * GetFunction's `Code.Location`: a URL on the invoq that answered, from which the function's zip
 * downloads without credentials for a while, as Lambda's presigned S3 URL does. The signature is
 * the credential: an HMAC-SHA256, with the key every API shares (`FunctionStore.codeUrlKey()`), of
 * the function's name, the code's hash and the expiry.
 */
export const CODE_PATH_PREFIX = '/invoq/code';

/** How long a `Code.Location` URL is valid (Lambda's are valid 10 minutes too). */
export const CODE_URL_TTL_SECONDS = 600;

/** The hex SHA-256 in the URL, from Lambda's base64 `CodeSha256` (hex needs no escaping in a path). */
export const hexOfCodeSha256 = (codeSha256: string) => Buffer.from(codeSha256, 'base64').toString('hex');

function signatureOf(key: Buffer, name: string, hexSha256: string, expires: number): Buffer {
  // Newline-separated: no part can hold one (names and hex digits), so no two triples sign alike.
  return createHmac('sha256', key).update(`${name}\n${hexSha256}\n${expires}`).digest();
}

/** The path and query of a download URL valid until `nowMs + CODE_URL_TTL_SECONDS`. */
export function signedCodePath(key: Buffer, name: string, codeSha256: string, nowMs: number): string {
  const hex = hexOfCodeSha256(codeSha256);
  const expires = Math.floor(nowMs / 1000) + CODE_URL_TTL_SECONDS;
  return `${CODE_PATH_PREFIX}/${name}/${hex}?expires=${expires}&signature=${signatureOf(key, name, hex, expires).toString('hex')}`;
}

export type CodeUrlCheck = 'valid' | 'expired' | 'invalid';

/** Whether a download URL's `expires` and `signature` hold for `name` and `hexSha256` at `nowMs` (compared in constant time). */
export function checkCodeUrl(key: Buffer, name: string, hexSha256: string, expires: unknown, signature: unknown, nowMs: number): CodeUrlCheck {
  if (typeof expires !== 'string' || !/^\d{1,12}$/.test(expires) || typeof signature !== 'string' || !/^[0-9a-f]{64}$/.test(signature)) return 'invalid';
  const expected = signatureOf(key, name, hexSha256, Number(expires));
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return 'invalid';
  return Number(expires) * 1000 < nowMs ? 'expired' : 'valid';
}
