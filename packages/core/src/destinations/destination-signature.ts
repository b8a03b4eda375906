import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header a destination delivery carries when INVOQ_DESTINATION_SECRET is set. */
export const SIGNATURE_HEADER = 'X-Invoq-Signature';

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the timestamp inside the MAC lets a
 * receiver refuse replays (reject a `t` too far from its clock), the MAC refuses forgeries.
 */
export function signDelivery(secret: string, body: string, unixSeconds = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** What a receiver does (and what the tests do): true if the header is ours and fresh. */
export function verifyDelivery(secret: string, body: string, header: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  const t = Number(match[1]);
  if (Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signDelivery(secret, body, t).slice(-64));
  return timingSafeEqual(expected, Buffer.from(match[2]!));
}
