import type { Request } from 'express';
import { InvoqError } from '@invoq/core';

/** AWS answers its List calls at most 50 at a time. */
const MAX_PAGE = 50;

/**
 * One page of a List call, Lambda's way: `MaxItems` (1–10000, at most 50 served), `Marker` from
 * the previous page's `NextMarker`. `items` come in their order; the marker is the key of the
 * last item served, so a page resumes after it even when items before it went away (`compare`
 * places a key that is no longer listed).
 */
export function listPage<T>(req: Request, items: readonly T[], keyOf: (item: T) => string, compare: (a: string, b: string) => number) {
  const maxItems = req.query.MaxItems === undefined ? MAX_PAGE : Number(req.query.MaxItems);
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10_000) {
    throw new InvoqError('INVALID_PARAMETER', 'MaxItems must be an integer from 1 to 10000');
  }
  const marker = typeof req.query.Marker === 'string' ? Buffer.from(req.query.Marker, 'base64url').toString() : undefined;
  const start = marker === undefined ? 0 : items.findIndex((item) => compare(keyOf(item), marker) > 0);
  const page = start < 0 ? [] : items.slice(start, start + Math.min(maxItems, MAX_PAGE));
  const last = page.at(-1);
  const more = last !== undefined && items.at(-1) !== last;
  return { page, nextMarker: more ? Buffer.from(keyOf(last)).toString('base64url') : null };
}
