import { createHash } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { InvoqError, type AccessKey } from '@invoq/core';
import { signaturesMatch, verifySigV4 } from './sigv4';

const KEY: AccessKey = { accessKeyId: 'AKIDUNIT', secret: 'unit-secret', admin: false };
const KEYS = new Map([[KEY.accessKeyId, KEY]]);
const PATH = '/2015-03-31/functions/echo/invocations';
const HOST = '127.0.0.1:3000';

/**
 * A request as @smithy/signature-v4 (the SDK's own signer) signs it, with `extra` headers signed
 * too. The signer adds and signs `x-amz-content-sha256` (the body's hash) unless told otherwise.
 */
async function signed(body: string, extra: Record<string, string> = {}, unsignableHeaders?: Set<string>) {
  const signer = new SignatureV4({
    credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: KEY.secret },
    region: 'us-east-1',
    service: 'lambda',
    sha256: Hash.bind(null, 'sha256'),
  });
  const request = await signer.sign(
    new HttpRequest({ method: 'POST', protocol: 'http:', hostname: HOST, path: PATH, headers: { host: HOST, ...extra }, body }),
    { unsignableHeaders },
  );
  return { method: 'POST', rawPath: PATH, rawQuery: '', headers: request.headers, body: Buffer.from(body) };
}
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as InvoqError,
  );

describe('signaturesMatch', () => {
  const sig = 'ab'.repeat(32);
  it.each([
    [sig, sig, true],
    [sig, 'ac'.repeat(32), false],
    // The signer produced nothing, or no signature: nothing matches it, 64 zeros least of all.
    [undefined, '0'.repeat(64), false],
    ['', '0'.repeat(64), false],
    ['', '', false],
    ['0'.repeat(63), '0'.repeat(64), false],
    [sig.toUpperCase(), sig.toUpperCase(), false],
    [sig, sig.slice(0, 63), false],
    [`${sig}0`, `${sig}0`, false],
  ])('%p against %p: %p', (expected, provided, match) => {
    expect(signaturesMatch(expected, provided)).toBe(match);
  });
});

describe('verifySigV4 and the payload hash', () => {
  it('accepts a request whose body the signature covers (hashed here, or sent as x-amz-content-sha256)', async () => {
    await expect(verifySigV4(await signed('{"a":1}'), KEYS)).resolves.toBe(KEY);
    const hash = createHash('sha256').update('{"a":1}').digest('hex');
    await expect(verifySigV4(await signed('{"a":1}', { 'x-amz-content-sha256': hash }), KEYS)).resolves.toBe(KEY);
  });

  it.each(['UNSIGNED-PAYLOAD', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'])(
    'refuses x-amz-content-sha256: %s, though @smithy/signature-v4 signed it',
    async (value) => {
      const request = await signed('{"a":1}', { 'x-amz-content-sha256': value });
      const error = await refusal(verifySigV4(request, KEYS));
      expect(error).toBeInstanceOf(InvoqError);
      expect(error?.code).toBe('INVALID_SIGNATURE');
      expect(error?.message).toMatch(new RegExp(`^x-amz-content-sha256: ${value} is not accepted: the payload must be signed`));
      // With it, another body would have passed for the signed one.
      expect((await refusal(verifySigV4({ ...request, body: Buffer.from('{"a":2}') }, KEYS)))?.code).toBe('INVALID_SIGNATURE');
    },
  );

  it('refuses UNSIGNED-PAYLOAD even when the header was left out of SignedHeaders', async () => {
    const request = await signed('{}', {}, new Set(['x-amz-content-sha256']));
    expect(request.headers.authorization).not.toMatch(/x-amz-content-sha256/);
    await expect(verifySigV4(request, KEYS)).resolves.toBe(KEY);
    const error = await refusal(verifySigV4({ ...request, headers: { ...request.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, KEYS));
    expect(error?.message).toMatch(/the payload must be signed/);
  });

  it('refuses a body that is not the signed one, its hash sent or not (as the CLI sends none)', async () => {
    const request = await signed('{"a":1}');
    expect((await refusal(verifySigV4({ ...request, body: Buffer.from('{"a":2}') }, KEYS)))?.message).toMatch(/x-amz-content-sha256 header does not match/);
    const unhashed = await signed('{"a":1}', {}, new Set(['x-amz-content-sha256']));
    const { 'x-amz-content-sha256': _, ...headers } = unhashed.headers;
    await expect(verifySigV4({ ...unhashed, headers }, KEYS)).resolves.toBe(KEY);
    expect((await refusal(verifySigV4({ ...unhashed, headers, body: Buffer.from('{"a":2}') }, KEYS)))?.message).toMatch(
      /signature we calculated does not match/,
    );
  });
});
