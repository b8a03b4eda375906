import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { InvoqError, type AccessKey, type ResolvedConfig } from '@invoq/core';
import { isSigV4, verifySigV4 } from './sigv4';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * Basic credentials that are an access key id and its secret (`INVOQ_AWS_CREDENTIALS`): how a
 * browser opens /admin/queues with an admin SigV4 key pair. Only an `:admin` pair counts (it is
 * then that admin key, as for SigV4); a user pair must sign its requests, as SDKs do, so
 * sending its secret is refused. Secrets are compared by digest in constant time.
 */
function accessKeyOfBasic(user: string, password: string, secretDigests: ReadonlyMap<string, { key: AccessKey; digest: Buffer }>): AccessKey | undefined {
  const entry = secretDigests.get(user);
  if (!entry || !timingSafeEqual(createHash('sha256').update(password).digest(), entry.digest)) return undefined;
  if (!entry.key.admin) {
    throw new InvoqError(
      'FORBIDDEN',
      'An access key id and secret as Basic credentials count only for an admin key (an INVOQ_AWS_CREDENTIALS entry with :admin); sign requests with SigV4 to use this key.',
    );
  }
  return entry.key;
}

/**
 * Who is calling: an API key (`Authorization: Bearer KEY` or `x-api-key: KEY`) or an AWS SigV4
 * signature (SDKs, the CLI). API keys are compared by their SHA-256 digests, so lookup time says
 * nothing about how much of a guessed key was right. Sets `res.locals.admin`, and
 * `res.locals.credentialHeader` (the header that carried the credential, which gateway routes
 * keep from the function). Runs after the body is read: SigV4 covers the body.
 */
export function createAuth(auth: ResolvedConfig['auth']): RequestHandler {
  const apiKeyDigests = new Set([...auth.apiKeys].map(sha256));
  const adminKeyDigests = new Set([...auth.adminKeys].map(sha256));
  const secretDigests = new Map(
    [...auth.accessKeys.values()].map((key) => [key.accessKeyId, { key, digest: createHash('sha256').update(key.secret).digest() }]),
  );
  return async (req, res, next) => {
    if (!auth.enabled) {
      res.locals.admin = true;
      return next();
    }
    const authorization = req.headers.authorization;
    if (isSigV4(authorization)) {
      const [rawPath, rawQuery = ''] = req.originalUrl.split('?', 2) as [string, string?];
      const key = await verifySigV4(
        { method: req.method, rawPath, rawQuery, headers: req.headers, body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0) },
        auth.accessKeys,
      );
      res.locals.admin = key.admin;
      res.locals.credentialHeader = 'authorization';
      return next();
    }
    let key = req.headers['x-api-key'];
    res.locals.credentialHeader = typeof key === 'string' ? 'x-api-key' : 'authorization';
    if (typeof key !== 'string' && authorization?.startsWith('Bearer ')) key = authorization.slice(7).trim();
    // Basic auth (any user name, the key as password; or an admin access key id and its secret):
    // how a browser opens /admin/queues.
    let basicUser: string | undefined;
    if (typeof key !== 'string' && authorization?.startsWith('Basic ')) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      basicUser = colon === -1 ? undefined : decoded.slice(0, colon);
      key = decoded.slice(colon + 1);
    }
    if (typeof key !== 'string' || key.length === 0) {
      throw new InvoqError('MISSING_CREDENTIALS', 'Missing credentials: send Authorization: Bearer <key>, x-api-key: <key>, or an AWS SigV4 signature.');
    }
    const digest = sha256(key);
    if (apiKeyDigests.has(digest)) {
      res.locals.admin = adminKeyDigests.has(digest);
      return next();
    }
    if (basicUser !== undefined && accessKeyOfBasic(basicUser, key, secretDigests)) {
      res.locals.admin = true;
      return next();
    }
    throw new InvoqError('UNKNOWN_CREDENTIALS', 'The API key included in the request is invalid.');
  };
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  if (res.locals.admin === true) return next();
  next(new InvoqError('FORBIDDEN', 'This endpoint needs an admin key (INVOQ_ADMIN_KEYS, or an INVOQ_AWS_CREDENTIALS entry with :admin).'));
};
