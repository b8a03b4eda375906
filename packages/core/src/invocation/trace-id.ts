import { createHash, randomFillSync } from 'node:crypto';

/**
 * X-Ray trace headers, the value Lambda puts in `_X_AMZN_TRACE_ID` for each invocation:
 * `Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0`. The X-Ray SDK and OTel's
 * AWS propagators read it; without it the X-Ray SDK logs an error on every call.
 */
const ROOT = /^1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const PARENT = /^[0-9a-f]{16}$/;

/**
 * Random hex from a pool refilled 4 KB at a time: one `randomBytes` call per id cost more than
 * the rest of a no-op invocation (measured with npm run bench:executor: 60k → 25k calls/s).
 */
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;
function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += bytes;
  return pool.toString('hex', poolOffset - bytes, poolOffset);
}

function format(root: string, parent: string, sampled: '0' | '1'): string {
  return `Root=${root};Parent=${parent};Sampled=${sampled}`;
}

function epochHex(epochMs: number): string {
  return Math.floor(epochMs / 1000)
    .toString(16)
    .padStart(8, '0')
    .slice(-8);
}

/** A new trace id for an invocation received at `nowMs`. */
export function newTraceId(nowMs = Date.now()): string {
  return format(`1-${epochHex(nowMs)}-${randomHex(12)}`, randomHex(8), '0');
}

/**
 * The caller's `X-Amzn-Trace-Id` header, continued as Lambda continues it (its Root and Sampled
 * kept, a Parent of its own when the header has none), or a new trace id when the header is
 * absent or malformed.
 */
export function traceIdFromHeader(header: string | undefined, nowMs = Date.now()): string {
  if (header === undefined || header.length > 256) return newTraceId(nowMs);
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0)
      fields.set(
        part.slice(0, at).trim().toLowerCase(),
        part
          .slice(at + 1)
          .trim()
          .toLowerCase(),
      );
  }
  const root = fields.get('root');
  if (root === undefined || !ROOT.test(root)) return newTraceId(nowMs);
  const parent = fields.get('parent');
  return format(root, parent !== undefined && PARENT.test(parent) ? parent : randomHex(8), fields.get('sampled') === '1' ? '1' : '0');
}

/**
 * The trace id of an event stored before events carried one: derived from its request id, so
 * that every attempt of it sees the same.
 */
export function traceIdOfStoredEvent(requestId: string, receivedAtMs: number): string {
  const hash = createHash('sha256').update(requestId).digest('hex');
  return format(`1-${epochHex(receivedAtMs)}-${hash.slice(0, 24)}`, hash.slice(24, 40), '0');
}
