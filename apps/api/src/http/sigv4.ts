import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { InvoqError, coerceError, type AccessKey } from '@invoq/core';

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;
/** AWS accepts a request signed up to 15 minutes either side of its clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
const Sha256 = Hash.bind(null, 'sha256');

export interface SignedRequest {
  method: string;
  /** The path exactly as received (still percent-encoded), without the query. */
  rawPath: string;
  /** The query string as received, without `?`. */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export function isSigV4(authorization: string | undefined): boolean {
  return authorization?.startsWith('AWS4-HMAC-SHA256 ') ?? false;
}

/** `20261127T101500Z` → Date, or undefined. */
function parseAmzDate(value: string | undefined): Date | undefined {
  const m = value && /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    const existing = query[key];
    query[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  return query;
}

/**
 * Verifies an AWS Signature Version 4 request by recomputing its signature with
 * @smithy/signature-v4 (the signer the AWS SDK itself uses) over the request as received:
 * the path re-encoded as both clients sign it, the body hashed here (the CLI sends no
 * `x-amz-content-sha256`), only the headers the client signed. Returns the caller's key.
 */
export async function verifySigV4(request: SignedRequest, accessKeys: ReadonlyMap<string, AccessKey>, now = Date.now()): Promise<AccessKey> {
  const match = AUTHORIZATION.exec(headerValue(request.headers.authorization) ?? '');
  if (!match) throw new InvoqError('INVALID_SIGNATURE', 'Authorization header requires Credential, SignedHeaders and Signature (AWS4-HMAC-SHA256).');
  const [, accessKeyId, scopeDate, region, service, signedHeaderList, signature] = match as unknown as string[];
  const key = accessKeys.get(accessKeyId!);
  if (!key) throw new InvoqError('UNKNOWN_CREDENTIALS', 'The security token included in the request is invalid.');
  if (service !== 'lambda') throw new InvoqError('INVALID_SIGNATURE', `Credential should be scoped to correct service: 'lambda'.`);

  const amzDate = headerValue(request.headers['x-amz-date']);
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate || amzDate!.slice(0, 8) !== scopeDate) {
    throw new InvoqError('INVALID_SIGNATURE', 'X-Amz-Date is missing or does not match the credential scope date.');
  }
  if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
    const iso = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');
    throw new InvoqError('INVALID_SIGNATURE', `Signature expired: ${amzDate} is now earlier than ${iso(now - MAX_CLOCK_SKEW_MS)} (${iso(now)} - 15 min.)`);
  }

  const signedHeaders = signedHeaderList!.split(';');
  if (!signedHeaders.includes('host')) throw new InvoqError('INVALID_SIGNATURE', 'The host header must be signed.');
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(request.headers[name]);
    if (value === undefined) throw new InvoqError('INVALID_SIGNATURE', `Signed header ${name} is missing from the request.`);
    headers[name] = value;
  }
  // The signature must cover the body: with UNSIGNED-PAYLOAD (or S3's STREAMING-* chunked
  // forms) a captured request's body could be swapped. Lambda's SDKs and CLI never send them.
  // Refused whether the header is signed or not, so nobody is led to think it was honoured.
  const payloadHash = headerValue(request.headers['x-amz-content-sha256']);
  if (payloadHash !== undefined && (payloadHash.trim() === 'UNSIGNED-PAYLOAD' || payloadHash.trim().startsWith('STREAMING-'))) {
    throw new InvoqError(
      'INVALID_SIGNATURE',
      `x-amz-content-sha256: ${payloadHash.trim().slice(0, 64)} is not accepted: the payload must be signed (send the hex SHA-256 of the body, as the AWS SDKs do, or no such header).`,
    );
  }
  // A signed payload hash must be the body's: otherwise the signature covers a different body.
  const claimedHash = headers['x-amz-content-sha256'];
  if (claimedHash !== undefined && claimedHash !== createHash('sha256').update(request.body).digest('hex')) {
    throw new InvoqError('INVALID_SIGNATURE', 'The provided x-amz-content-sha256 header does not match what was computed.');
  }

  const signer = new SignatureV4({
    credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secret },
    region: region!,
    service: 'lambda',
    sha256: Sha256,
    uriEscapePath: true,
    // Add nothing the client did not sign.
    applyChecksum: false,
  });
  const signed = await signer
    .sign(
      new HttpRequest({
        method: request.method,
        protocol: 'http:',
        hostname: headers.host!,
        path: request.rawPath,
        query: parseQuery(request.rawQuery),
        headers,
        body: request.body,
      }),
      { signingDate, signingRegion: region, signingService: 'lambda', signableHeaders: new Set(signedHeaders) },
    )
    .catch((e: unknown) => {
      // Whatever made the signer fail, the request is not proven: refuse it (a 403, not a 500).
      throw new InvoqError('INVALID_SIGNATURE', 'The request signature could not be computed.', { cause: coerceError(e) });
    });
  const expected = /Signature=([0-9a-f]{64})$/.exec(String(signed.headers.authorization))?.[1];
  if (!signaturesMatch(expected, signature!)) {
    throw new InvoqError(
      'INVALID_SIGNATURE',
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
  return key;
}

const SIGNATURE = /^[0-9a-f]{64}$/;

/**
 * Whether a provided signature is the expected one, in constant time. Fails closed: an expected
 * value that is missing or not a signature (the signer produced nothing) matches nothing, so no
 * provided value, 64 zeros included, can pass for it.
 */
export function signaturesMatch(expected: string | undefined, provided: string): boolean {
  if (expected === undefined || !SIGNATURE.test(expected) || !SIGNATURE.test(provided)) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(provided));
}
