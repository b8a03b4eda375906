import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { InvoqError, type ResolvedConfig } from '@invoq/core';

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/**
 * API-key auth: `Authorization: Bearer KEY` or `x-api-key: KEY`. Keys are compared by their
 * SHA-256 digests, so lookup time says nothing about how much of a guessed key was right.
 * Sets `res.locals.admin` for the admin endpoints.
 */
export function createAuth(auth: ResolvedConfig['auth']): RequestHandler {
  const apiKeyDigests = new Set([...auth.apiKeys].map(sha256));
  const adminKeyDigests = new Set([...auth.adminKeys].map(sha256));
  return (req, res, next) => {
    if (!auth.enabled) {
      res.locals.admin = true;
      return next();
    }
    const authorization = req.headers.authorization;
    let key = req.headers['x-api-key'];
    if (typeof key !== 'string' && authorization?.startsWith('Bearer ')) key = authorization.slice(7).trim();
    if (typeof key !== 'string' || key.length === 0) {
      if (authorization?.startsWith('AWS4-HMAC-SHA256')) {
        return next(new InvoqError('UNKNOWN_CREDENTIALS', 'The security token included in the request is invalid.'));
      }
      return next(new InvoqError('MISSING_CREDENTIALS', 'Missing credentials: send Authorization: Bearer <key> or x-api-key: <key>.'));
    }
    const digest = sha256(key);
    if (!apiKeyDigests.has(digest)) {
      return next(new InvoqError('UNKNOWN_CREDENTIALS', 'The API key included in the request is invalid.'));
    }
    res.locals.admin = adminKeyDigests.has(digest);
    next();
  };
}

export const requireAdmin: RequestHandler = (_req, res, next) => {
  if (res.locals.admin === true) return next();
  next(new InvoqError('FORBIDDEN', 'This endpoint needs an admin key (INVOQ_ADMIN_KEYS).'));
};
