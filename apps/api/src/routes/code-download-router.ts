import { Router } from 'express';
import { CODE_PATH_PREFIX, InvoqError, checkCodeUrl, type FunctionStore } from '@invoq/core';

/**
 * GetFunction's `Code.Location`: `GET /invoq/code/<name>/<hex sha256>?expires=&signature=`
 * answers the zip. Mounted before auth: the signature is the credential, as in a presigned S3
 * URL, so a tool can hand the URL to anything that downloads. A bad or expired URL says only
 * which of the two it is.
 */
export function createCodeDownloadRouter(deps: { functionStore: FunctionStore; now?: () => number }): Router {
  const router = Router();
  const now = deps.now ?? Date.now;
  router.get(`${CODE_PATH_PREFIX}/:name/:sha256`, async (req, res) => {
    const { name, sha256 } = req.params;
    const check = /^[0-9a-f]{64}$/.test(sha256)
      ? checkCodeUrl(await deps.functionStore.codeUrlKey(), name, sha256, req.query.expires, req.query.signature, now())
      : 'invalid';
    if (check !== 'valid') throw new InvoqError('FORBIDDEN', check === 'expired' ? 'The code URL has expired' : 'The code URL is invalid');
    const zip = await deps.functionStore.getCode(name, Buffer.from(sha256, 'hex').toString('base64'));
    if (!zip) throw new InvoqError('NOT_FOUND', 'The code is no longer stored');
    res.setHeader('Content-Type', 'application/zip');
    res.setHeader('Content-Length', String(zip.length));
    res.end(zip);
  });
  return router;
}
