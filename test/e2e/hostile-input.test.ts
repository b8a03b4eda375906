/**
 * Hostile input, property-based (fast-check) over the real HTTP layer. Each property aims its
 * runs at one surface, so none is spent being refused at the door: (a) authenticated Invoke of
 * echo with fuzzed bodies and X-Amz-* headers, each answer checked against what the contract says
 * it must be; (b) path and name tricks on the Lambda API, /invocations, /dlq, gateway routes and
 * the queue dashboard, and raw bytes in the request line; (c) credentials in every form. Then
 * deep JSON at the real 6 MB limit, on a second API with default limits. Never a 5xx, never a
 * crash, every refusal a 4xx that says why. On failure fast-check prints the seed and path that
 * replay the run (`fc.assert(..., { seed, path })`).
 */
import http from 'node:http';
import net from 'node:net';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { LAMBDA_API_PREFIXES, isReservedPath } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { silentLogger, testConfig, uniquePrefix } from '../support/harness';

// Small limits, so oversized bodies are cheap to make; deep JSON (5,000 levels, 10 KB) fits.
const SYNC_LIMIT = 64 * 1024;
const ASYNC_LIMIT = 16 * 1024;
const USER_KEY = 'fuzz-user-key-3f9a';
const ADMIN_KEY = 'fuzz-admin-key-b71c';
const USER_AKID = { accessKeyId: 'AKIDFUZZUSER', secretAccessKey: 'fuzz-user-secret' };
const ADMIN_AKID = { accessKeyId: 'AKIDFUZZADMIN', secretAccessKey: 'fuzz-admin-secret' };
const FUNCTIONS = new Set(['echo', 'fail', 'getOrder', 'helloPython', 'notifyOrder', 'putOrder', 'slow', 'testFunction']);
const INVOKE_ECHO = '/2015-03-31/functions/echo/invocations';

let api: ApiService;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
beforeAll(async () => {
  api = await startApi(
    testConfig({
      INVOQ_QUEUE_PREFIX: uniquePrefix('fuzz'),
      INVOQ_SYNC_PAYLOAD_LIMIT: String(SYNC_LIMIT),
      INVOQ_ASYNC_PAYLOAD_LIMIT: String(ASYNC_LIMIT),
      INVOQ_API_KEYS: USER_KEY,
      INVOQ_ADMIN_KEYS: ADMIN_KEY,
      INVOQ_AWS_CREDENTIALS: `${USER_AKID.accessKeyId}:${USER_AKID.secretAccessKey},${ADMIN_AKID.accessKeyId}:${ADMIN_AKID.secretAccessKey}:admin`,
    }),
    silentLogger(),
  );
});
afterAll(async () => {
  agent.destroy();
  await api?.close();
});

interface Request {
  method: string;
  /** Sent as is: no normalisation of `..`, no re-encoding. */
  path: string;
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  chunked?: boolean;
}
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

function send(port: number, { method, path, headers = {}, body, chunked }: Request): Promise<Answer> {
  // Framed explicitly: Node's client sends a GET's body with neither header.
  const framing = body === undefined ? {} : chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { ...headers, ...framing }, agent, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within 15 s to ${method} ${path.slice(0, 100)}`)));
    req.on('error', reject);
    if (chunked && body !== undefined) req.write(body);
    req.end(chunked ? undefined : body);
  });
}

const brief = (a: Answer) => `${a.status} ${String(a.headers['x-amzn-errortype'] ?? '')} ${a.text.slice(0, 300)}`;
function check(condition: unknown, what: string, answer: Answer): void {
  if (!condition) throw new Error(`${what}; got ${brief(answer)}`);
}

/** Lambda's error answer: the status, `x-amzn-ErrorType`, `{Type, Message}`. */
function checkLambdaError(a: Answer, method = 'POST'): void {
  check(typeof a.headers['x-amzn-errortype'] === 'string' && a.headers['x-amzn-errortype'].length > 0, 'a 4xx without x-amzn-ErrorType', a);
  if (method === 'HEAD') return;
  const body = JSON.parse(a.text) as { Type?: unknown; Message?: unknown };
  check(body.Type === 'User' && typeof body.Message === 'string' && body.Message.length > 0, 'a 4xx without {Type:"User", Message}', a);
}

async function expectHealthy(): Promise<void> {
  const a = await send(api.port, { method: 'GET', path: '/healthz' });
  expect(a.status).toBe(200);
}

// ---------------------------------------------------------------------------------------------
// (a) Invoke of echo, authenticated, with fuzzed body and headers.

/** A body, and the text echo answers for it (`null`: the server must refuse it as not JSON). */
interface BodyCase {
  label: string;
  bytes: Buffer;
  echo: string | null;
}
function bodyCase(label: string, bytes: Buffer, echo: string | null): BodyCase {
  const shown = bytes.toString('latin1');
  // fast-check prints this in a counterexample instead of up to 128 KB of body.
  return Object.assign(
    { label, bytes, echo },
    { [fc.toStringMethod]: () => `${label}(${bytes.length} B: ${JSON.stringify(shown.slice(0, 100))}${shown.length > 100 ? '…' : ''})` },
  );
}
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** For shallow bodies only (the main thread's stack ends near 4,000 levels). */
function textBody(label: string, bytes: Buffer): BodyCase {
  let echo: string | null = null;
  try {
    const text = strictUtf8.decode(bytes);
    echo = text.length === 0 ? '{}' : JSON.stringify(JSON.parse(text));
  } catch {
    // not UTF-8, or not JSON
  }
  return bodyCase(label, bytes, echo);
}
const text = (label: string) => (s: string) => textBody(label, Buffer.from(s));
const sized = (label: string) => (n: number) =>
  bodyCase(label, Buffer.from(`{"p":"${'x'.repeat(Math.max(0, n - 8))}"}`), `{"p":"${'x'.repeat(Math.max(0, n - 8))}"}`);

const depth = fc.integer({ min: 1, max: 5000 });
const body: fc.Arbitrary<BodyCase> = fc.oneof(
  { weight: 6, arbitrary: fc.json({ maxDepth: 5 }).map(text('json')) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3, stringUnit: 'grapheme' }).map(text('unicode-json')) },
  { weight: 2, arbitrary: depth.map((n) => bodyCase('deep-array', Buffer.from('['.repeat(n) + ']'.repeat(n)), '['.repeat(n) + ']'.repeat(n))) },
  {
    weight: 1,
    arbitrary: depth.map((n) => bodyCase('deep-object', Buffer.from('{"a":'.repeat(n) + '0' + '}'.repeat(n)), '{"a":'.repeat(n) + '0' + '}'.repeat(n))),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(depth, fc.constantFrom('[', '{"a":', '[{"a":'), fc.constantFrom('unclosed', 'extra-close', 'comma', 'nul')).map(([n, open, how]) => {
      const close = open === '[' ? ']' : open === '{"a":' ? '}' : '}]';
      const inner = how === 'comma' ? '1,' : how === 'nul' ? '"\u0000"' : '1';
      const tail = how === 'unclosed' ? '' : close.repeat(n) + (how === 'extra-close' ? close : '');
      return bodyCase(`deep-broken-${how}`, Buffer.from(open.repeat(n) + inner + tail), null);
    }),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(fc.json({ maxDepth: 3 }), fc.nat(), fc.nat({ max: 5 }), fc.string({ maxLength: 3 })).map(([json, at, cut, junk]) => {
      const i = at % (json.length + 1);
      return textBody('mangled-json', Buffer.from(json.slice(0, i) + junk + json.slice(i + cut)));
    }),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map(text('printable')) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => textBody('binary', Buffer.from(b))) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '',
        ' ',
        '\n\t',
        'null',
        '"',
        '\uFEFF{}',
        'undefined',
        'NaN',
        '1e400',
        '-0',
        '"\\ud800"',
        '{"__proto__":{"polluted":true}}',
        '{"constructor":{"prototype":{"x":1}}}',
        '[1,]',
        "{'a':1}",
        '{"a":1}{"b":2}',
        '\u0000',
        '{"a":1,"a":2}',
      )
      .map(text('edge')),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x7b, 0x7d, 0x80], [0xf4, 0x90, 0x80, 0x80])
      .map((b) => textBody('bad-utf8', Buffer.from(b))),
  },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        fc.constantFrom(ASYNC_LIMIT - 1, ASYNC_LIMIT, ASYNC_LIMIT + 1, SYNC_LIMIT - 1, SYNC_LIMIT, SYNC_LIMIT + 1),
        fc.integer({ min: 8, max: 2 * SYNC_LIMIT }),
      )
      .map(sized('sized-json')),
  },
  { weight: 1, arbitrary: fc.integer({ min: SYNC_LIMIT + 1, max: 2 * SYNC_LIMIT }).map((n) => bodyCase('oversized-junk', Buffer.alloc(n, 'x'), null)) },
);

// What a header value may hold on the wire (tab, visible ASCII, obs-text); Node trims SP/HTAB.
const headerText = (max: number) =>
  fc.string({
    unit: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constant(9), fc.integer({ min: 0x80, max: 0xff })).map((c) => String.fromCharCode(c)),
    maxLength: max,
  });
const ows = (v: string) => v.replace(/^[ \t]+|[ \t]+$/g, '');
const maybe = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>) =>
  fc.option(fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: invalid }), { nil: undefined, freq: 3 });
/** Present in one case in five. */
const rarely = <T>(value: fc.Arbitrary<T>) => fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });
const base64 = (s: string) => Buffer.from(s).toString('base64');

const invokeCase = fc.record({
  body,
  invocationType: maybe(
    fc.constantFrom('RequestResponse', 'Event', 'DryRun', ' Event\t'),
    fc.oneof(fc.constantFrom('event', 'EVENT', '', 'RequestResponse,Event', 'Dry Run', 'Event\u00a0'), headerText(20)),
  ),
  logType: maybe(fc.constantFrom('None', 'Tail', 'Tail '), fc.oneof(fc.constantFrom('tail', 'NONE', '', 'Tail,None'), headerText(20))),
  clientContext: maybe(
    fc.json({ maxDepth: 2 }).map(base64),
    fc.oneof(
      fc.constantFrom('', '=', '!!!!', 'eyJ9', base64('{"a":'), base64(`{"p":"${'x'.repeat(3000)}"}`)),
      headerText(60),
      fc.string({ maxLength: 40 }).map(base64),
    ),
  ),
  contentType: fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/octet-stream',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=--x',
        'application/json; charset=utf-16',
        'application/json; charset=bogus',
        '',
      ),
      headerText(40),
    ),
    { nil: undefined },
  ),
  contentEncoding: rarely(fc.tuple(fc.constantFrom('identity', 'IDENTITY', 'gzip', 'GZIP', 'deflate', 'br', 'x-bogus', 'gzip, gzip'), fc.boolean())),
  qualifier: maybe(
    fc.constantFrom('$LATEST', '%24LATEST'),
    fc.oneof(
      fc.constantFrom('', '1', 'LATEST', '$latest', '%00', '%E0%A4%A', '%ZZ', '$LATEST%00', '%2524LATEST', 'x'.repeat(300)),
      headerText(30).map(encodeURIComponent),
    ),
  ),
  idempotencyKey: rarely(
    fc.oneof(
      { weight: 4, arbitrary: fc.string({ minLength: 1, maxLength: 40 }).filter((s) => ows(s).length > 0 && ows(s) === s) },
      { weight: 1, arbitrary: fc.constantFrom('', 'k'.repeat(257)) },
    ),
  ),
  chunked: fc.boolean(),
});
type InvokeCase = typeof invokeCase extends fc.Arbitrary<infer T> ? T : never;

const CODECS: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gzipSync, deflate: zlib.deflateSync, br: zlib.brotliCompressSync };

function buildInvoke(c: InvokeCase): Request {
  const headers: Record<string, string> = { authorization: `Bearer ${USER_KEY}` };
  if (c.invocationType !== undefined) headers['x-amz-invocation-type'] = c.invocationType;
  if (c.logType !== undefined) headers['x-amz-log-type'] = c.logType;
  if (c.clientContext !== undefined) headers['x-amz-client-context'] = c.clientContext;
  if (c.contentType !== undefined) headers['content-type'] = c.contentType;
  if (c.idempotencyKey !== undefined) headers['idempotency-key'] = c.idempotencyKey;
  let bytes = c.body.bytes;
  if (c.contentEncoding && bytes.length > 0) {
    const [name, encode] = c.contentEncoding;
    headers['content-encoding'] = name;
    const codec = CODECS[name.toLowerCase()];
    if ((encode || name === 'br') && codec) bytes = codec(bytes);
  }
  const query = c.qualifier === undefined ? '' : `?Qualifier=${c.qualifier}`;
  return { method: 'POST', path: INVOKE_ECHO + query, headers, body: bytes, chunked: c.chunked };
}

type Expected = { refusals: Array<[number, string]> } | { status: 200 | 202 | 204; echo: string; tail: boolean };
const INVALID_CONTENT: [number, string] = [400, 'InvalidRequestContentException'];
const INVALID_PARAMETER: [number, string] = [400, 'InvalidParameterValueException'];
const TOO_LARGE: [number, string] = [413, 'RequestTooLargeException'];

/** The contract's answer for a case, whatever order the server checks things in. */
function expectedInvoke(c: InvokeCase): Expected {
  const refusals: Array<[number, string]> = [];
  const { bytes, echo } = c.body;
  const type = ows(c.invocationType ?? 'RequestResponse');
  const encoding = c.contentEncoding && bytes.length > 0 ? c.contentEncoding : undefined;
  if (encoding && encoding[0].toLowerCase() !== 'identity') {
    // Unknown coding, or a body that is not what its coding says: unreadable. (Brotli has no
    // magic number, so junk might decode: br bodies are always really compressed.)
    if (!CODECS[encoding[0].toLowerCase()] || !(encoding[1] || encoding[0] === 'br')) refusals.push(INVALID_CONTENT, INVALID_PARAMETER);
  }
  if (c.qualifier !== undefined && new URLSearchParams(`Qualifier=${c.qualifier}`).get('Qualifier') !== '$LATEST')
    refusals.push([404, 'ResourceNotFoundException']);
  if (!['RequestResponse', 'Event', 'DryRun'].includes(type)) refusals.push(INVALID_PARAMETER);
  if (c.logType !== undefined && !['None', 'Tail'].includes(ows(c.logType))) refusals.push(INVALID_PARAMETER);
  if (bytes.length > SYNC_LIMIT) refusals.push(TOO_LARGE);
  let utf8 = true;
  try {
    strictUtf8.decode(bytes);
  } catch {
    utf8 = false;
    refusals.push(INVALID_CONTENT);
  }
  if (type === 'Event') {
    if (bytes.length > ASYNC_LIMIT) refusals.push(TOO_LARGE);
    if (echo === null && utf8) refusals.push(INVALID_CONTENT);
    if (c.idempotencyKey !== undefined && (c.idempotencyKey.length === 0 || c.idempotencyKey.length > 256)) refusals.push(INVALID_PARAMETER);
  }
  if (type === 'RequestResponse') {
    if (echo === null) refusals.push(INVALID_CONTENT);
    if (c.clientContext !== undefined) {
      const cc = ows(c.clientContext);
      let valid = cc.length <= 3583;
      try {
        JSON.parse(Buffer.from(cc, 'base64').toString('utf8'));
      } catch {
        valid = false;
      }
      if (!valid) refusals.push(INVALID_CONTENT);
    }
  }
  if (refusals.length > 0) return { refusals };
  const status = type === 'Event' ? 202 : type === 'DryRun' ? 204 : 200;
  return { status, echo: echo ?? '', tail: c.logType !== undefined && ows(c.logType) === 'Tail' };
}

function checkInvoke(c: InvokeCase, a: Answer): void {
  check(a.status < 500, 'a 5xx', a);
  check(typeof a.headers['x-amzn-requestid'] === 'string', 'no x-amzn-RequestId', a);
  const expected = expectedInvoke(c);
  if ('refusals' in expected) {
    const names = expected.refusals.map(([s, n]) => `${s} ${n}`);
    check(names.includes(`${a.status} ${String(a.headers['x-amzn-errortype'])}`), `expected one of [${names.join(', ')}]`, a);
    checkLambdaError(a);
    return;
  }
  check(a.status === expected.status, `expected ${expected.status}`, a);
  if (expected.status === 200) {
    check(a.headers['x-amz-function-error'] === undefined, 'a function error from echo', a);
    check(a.text === expected.echo, `expected echo of ${expected.echo.slice(0, 100)}`, a);
    check(a.headers['x-amz-executed-version'] === '$LATEST', 'no X-Amz-Executed-Version', a);
    check((a.headers['x-amz-log-result'] !== undefined) === expected.tail, `X-Amz-Log-Result ${expected.tail ? 'missing' : 'without Tail'}`, a);
  } else {
    check(a.text === '', 'a body on 202/204', a);
  }
}

describe('(a) Invoke of echo, authenticated: fuzzed body, X-Amz-* headers, Content-Type/-Encoding, Qualifier', () => {
  it('answers each of 2,000 cases as the contract says (200 echo, 202, 204, or the right 4xx); never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(invokeCase, async (c) => checkInvoke(c, await send(api.port, buildInvoke(c)))),
      { numRuns: 2000 },
    );
    await expectHealthy();
  }, 90_000);
});

// ---------------------------------------------------------------------------------------------
// (b) Path and name tricks, with an admin key so nothing stops at auth.

/** A name as it goes into the path, and what it refers to. */
type NameKind = 'echo' | 'missing' | 'invalid' | 'unknown';
const namedTricks: Array<[string, NameKind]> = [
  ['echo', 'echo'],
  ['echo:$LATEST', 'echo'],
  ['echo%3A%24LATEST', 'echo'],
  ['%65cho', 'echo'],
  ['arn:aws:lambda:us-east-1:123456789012:function:echo', 'echo'],
  ['123456789012:function:echo', 'echo'],
  ['arn%3Aaws%3Alambda%3Aeu-west-1%3A000000000000%3Afunction%3Aecho%3A%24LATEST', 'echo'],
  ['nope', 'missing'],
  ['Echo', 'missing'],
  ['ECHO', 'missing'],
  ['__proto__', 'missing'],
  ['constructor', 'missing'],
  ['hasOwnProperty', 'missing'],
  ['toString', 'missing'],
  ['echo:1', 'missing'],
  ['echo:$latest', 'missing'],
  ['x'.repeat(64), 'missing'],
  ['arn:aws:lambda:us-east-1:123456789012:function:nope', 'missing'],
  ['echo_', 'missing'],
  ['..', 'invalid'],
  ['.', 'invalid'],
  ['%2E%2E', 'invalid'],
  ['%2F..%2Fetc', 'invalid'],
  ['..%2F..%2Fdlq', 'invalid'],
  ['a%00b', 'invalid'],
  ['%00', 'invalid'],
  ['echo%00', 'invalid'],
  ['%', 'invalid'],
  ['%E0%A4%A', 'invalid'],
  ['%ZZ', 'invalid'],
  ['%C0%AF', 'invalid'],
  ['x'.repeat(65), 'invalid'],
  ['x'.repeat(5000), 'invalid'],
  ['%F0%9F%92%A5', 'invalid'],
  ['%C3%A9cho', 'invalid'],
  ['echo%20', 'invalid'],
  ['echo:', 'invalid'],
  ['echo:$LATEST:x', 'invalid'],
  ['arn:aws:lambda:us-east-1:12345:function:echo', 'invalid'],
  ['%7B%7D', 'invalid'],
];
/** A random name, judged by the contract's `^[A-Za-z0-9_-]{1,64}$`. */
const randomName = (s: string): [string, NameKind] => [
  encodeURIComponent(s),
  s.includes(':') ? 'unknown' : !/^[A-Za-z0-9_-]{1,64}$/.test(s) ? 'invalid' : s === 'echo' ? 'echo' : 'missing',
];
const name: fc.Arbitrary<[string, NameKind]> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...namedTricks) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 80 }).map(randomName) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(randomName) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,70}$/).map(randomName) },
    // Another real function would run (slow, fail, putOrder...): not what these probes are about.
  )
  .filter(([raw]) => raw === 'echo' || !FUNCTIONS.has(raw));

type Surface = 'lambda' | 'gateway' | 'dashboard';
const surfaceOf = (path: string): Surface => {
  const lower = path.toLowerCase();
  if (lower === '/admin' || lower.startsWith('/admin/')) return 'dashboard';
  // invoq's own paths (every Lambda API version among them) answer in Lambda's shape.
  return isReservedPath(lower) ? 'lambda' : 'gateway';
};
interface Probe extends Request {
  surface: Surface;
  allowed: number[];
  /** More checks on a 2xx. */
  then?: (a: Answer) => void;
}
const byKind = (kind: NameKind, ok: number[]) => ({ echo: ok, missing: [404], invalid: [400], unknown: [400, 404] })[kind];
const jsonField = (field: string, value: string) => (a: Answer) =>
  check((JSON.parse(a.text) as Record<string, unknown>)[field] === value, `${field} should be ${value}`, a);
const query = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
  fc.constantFrom('%', '%ZZ', '-1', '1e400', 'NaN', '0', '1.5', '%00', '__proto__', base64('{"t":1e999,"id":"x"}'), base64('{"t":"x"}'), base64('null')),
);

const probe: fc.Arbitrary<Probe> = fc.oneof(
  name.map(([n, kind]): Probe => ({
    surface: 'lambda',
    method: 'POST',
    path: `/2015-03-31/functions/${n}/invocations`,
    body: '{"probe":[1,"two"]}',
    allowed: byKind(kind, [200]),
    then: (a) => check(a.text === '{"probe":[1,"two"]}', 'not an echo', a),
  })),
  fc.tuple(name, fc.constantFrom('', '/configuration')).map(([[n, kind], tail]): Probe => ({
    surface: 'lambda',
    method: 'GET',
    path: `/2015-03-31/functions/${n}${tail}`,
    allowed: byKind(kind, [200]),
    then: (a) => check(JSON.stringify(JSON.parse(a.text)).includes('"FunctionName":"echo"'), 'not echo', a),
  })),
  name.map(([n, kind]): Probe => ({
    surface: 'lambda',
    method: 'GET',
    path: `/2019-09-25/functions/${n}/event-invoke-config/list`,
    allowed: byKind(kind, [200]),
  })),
  // Unknown methods on the Lambda API's paths.
  fc
    .tuple(name, fc.constantFrom('PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'GET'), fc.constantFrom('/invocations', '/nope', '/invocations/x'))
    .map(([[n], method, tail]): Probe => ({
      // Express answers OPTIONS on a known path itself, with Allow.
      surface: 'lambda',
      method,
      path: `/2015-03-31/functions/${n}${tail}`,
      allowed: method === 'OPTIONS' ? [200, 400, 404] : [400, 404],
    })),
  fc.tuple(name, fc.option(query, { nil: undefined })).map(([[n], wait]): Probe => ({
    surface: 'lambda',
    method: 'GET',
    path: `/invocations/${n}${wait === undefined ? '' : `?wait=${wait}`}`,
    allowed: [400, 404],
  })),
  fc.tuple(name, fc.constantFrom(['GET', ''], ['DELETE', ''], ['POST', '/redrive'], ['PUT', ''])).map(([[n], [method, tail]]): Probe => ({
    surface: 'lambda',
    method: method!,
    path: `/dlq/${n}${tail}`,
    allowed: [400, 404],
  })),
  fc.tuple(name, query, query).map(([[n], limit, cursor]): Probe => ({
    surface: 'lambda',
    method: 'GET',
    path: `/dlq?functionName=${n}&limit=${limit}&cursor=${cursor}`,
    allowed: [200, 400, 404],
    then: (a) => check(Array.isArray((JSON.parse(a.text) as { items: unknown }).items), 'no items', a),
  })),
  fc
    .tuple(query, query)
    .map(([max, marker]): Probe => ({ surface: 'lambda', method: 'GET', path: `/2015-03-31/functions?MaxItems=${max}&Marker=${marker}`, allowed: [200, 400] })),
  // Gateway routes: GET /orders/{orderId} and /getOrder answer from getOrder; PUTs queue putOrder.
  fc.tuple(name, fc.constantFrom('GET', 'HEAD'), fc.boolean()).map(([[n], method, event]): Probe => ({
    surface: 'gateway',
    method,
    path: `/orders/${n}`,
    headers: event ? { 'x-amz-invocation-type': 'Event' } : {},
    allowed: event ? [202, 404] : [200, 404],
  })),
  name.map(([n]): Probe => ({ surface: 'gateway', method: 'GET', path: `/getOrder?orderId=${n}&__proto__=x&constructor[a]=b`, allowed: [200, 400, 404] })),
  fc.tuple(name, fc.constantFrom('/orders', '/putOrder'), fc.string({ maxLength: 200 })).map(([[n], route, b]): Probe => ({
    surface: 'gateway',
    method: 'PUT',
    path: `${route}?id=${n}`,
    body: b,
    allowed: [202],
  })),
  fc
    .tuple(name, fc.constantFrom('POST', 'DELETE', 'PATCH'), fc.constantFrom('/orders/', '/getOrder/', '/putOrder/', '/ORDERS/', '//orders/', '/orders//'))
    .map(([[n], method, route]): Probe => ({
      surface: 'gateway',
      method,
      path: `${route}${n}`,
      allowed: [404],
    })),
  // Every Lambda API version: beyond the calls invoq serves, 400 UnsupportedOperationException.
  fc
    .tuple(fc.constantFrom(...LAMBDA_API_PREFIXES), fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'), fc.string({ maxLength: 40 }))
    .map(([prefix, method, tail]): Probe => ({
      surface: 'lambda',
      method,
      path: `${prefix}/${encodeURI(tail).replace(/[?#]/g, '')}`,
      body: method === 'GET' || method === 'HEAD' ? undefined : '{}',
      allowed: prefix === '/2015-03-31' || prefix === '/2019-09-25' ? [200, 400, 404] : [400],
    })),
  fc.string({ maxLength: 60 }).map((p): Probe => {
    const path = `/${encodeURI(p).replace(/[?#]/g, '')}`;
    return { surface: surfaceOf(path), method: 'GET', path, allowed: [200, 400, 404] };
  }),
  fc
    .constantFrom(
      '/2015-03-31/../dlq/x',
      '/admin/queues/../../dlq',
      '/DLQ/x',
      '/Invocations/x',
      '/2015-03-31//functions//echo//invocations',
      '/metrics/../dlq',
      '/healthz/../dlq/x',
      '/2015-03-31/functions/echo/invocations/../../../dlq',
      '/2019-09-25/functions/echo/event-invoke-config/../../../../dlq',
    )
    .map((path): Probe => ({ surface: 'lambda', method: 'GET', path, allowed: [400, 404] })),
);

// The queue dashboard is bull-board's own (HTML, and JSON in its own shape): read-only probes.
const dashboardProbe: fc.Arbitrary<Probe> = fc.oneof(
  fc.tuple(name, query).map(([[n], page]): Probe => ({
    surface: 'dashboard',
    method: 'GET',
    path: `/admin/queues/api/queues?activeQueue=${n}&page=${page}&jobsPerPage=${page}`,
    allowed: [200, 400, 404],
  })),
  fc
    .tuple(name, fc.constantFrom('queue/', 'api/queues/', 'api/queues/%7Becho%7D/', ''))
    .map(([[n], under]): Probe => ({ surface: 'dashboard', method: 'GET', path: `/admin/queues/${under}${n}`, allowed: [200, 400, 404] })),
);

function checkProbe(p: Probe, a: Answer): void {
  check(a.status < 500, 'a 5xx', a);
  check(p.allowed.includes(a.status), `expected one of ${p.allowed.join('/')}`, a);
  if (p.surface === 'dashboard') return;
  check(typeof a.headers['x-amzn-requestid'] === 'string', 'no x-amzn-RequestId', a);
  if (a.status >= 400 && p.surface === 'lambda') checkLambdaError(a, p.method);
  if (a.status >= 400 && a.status !== 404 && p.surface === 'gateway') {
    const { message } = JSON.parse(a.text) as { message?: unknown };
    check(typeof message === 'string' && message.length > 0, 'a gateway 4xx without {message}', a);
    // Without x-amzn-ErrorType it can only be getOrder's own answer to a missing orderId.
    check(
      a.headers['x-amzn-errortype'] !== undefined || (a.status === 400 && String(message).startsWith('orderId is required')),
      'a gateway 4xx without x-amzn-ErrorType',
      a,
    );
  }
  if (a.status < 300) p.then?.(a);
}

const runProbe = async (p: Probe) => checkProbe(p, await send(api.port, { ...p, headers: { authorization: `Bearer ${ADMIN_KEY}`, ...p.headers } }));

describe('(b) path and name tricks: Lambda API, /invocations, /dlq, gateway routes, dashboard', () => {
  it('answers each of 1,000 probes with an allowed status and error shape; never a 5xx', async () => {
    await fc.assert(fc.asyncProperty(probe, runProbe), { numRuns: 1000 });
    await expectHealthy();
  }, 60_000);

  it('answers 200 read-only probes of the queue dashboard (/admin/queues) without a 5xx', async () => {
    await fc.assert(fc.asyncProperty(dashboardProbe, runProbe), { numRuns: 200 });
    await expectHealthy();
  }, 30_000);

  // Raw bytes Node's parser refuses before express runs (NUL, space, control, non-ASCII).
  it('survives 200 request lines with raw bytes in the path (a 4xx that says why, API up)', async () => {
    const rawPath = fc
      .tuple(
        fc.constantFrom('/2015-03-31/functions/echo/invocations', '/orders/42', '/dlq/x', '/invocations/x'),
        fc.nat(),
        fc.oneof(fc.integer({ min: 0, max: 0x20 }), fc.integer({ min: 0x7f, max: 0xff })),
      )
      .map(([p, at, byte]) => {
        // Inside the path, never after it: a space after the last byte only widens the gap before
        // "HTTP/1.1", and Node parses that line as the plain request it is (a 200 from echo).
        const i = 1 + (at % (p.length - 1));
        return Buffer.concat([Buffer.from(p.slice(0, i)), Buffer.from([byte]), Buffer.from(p.slice(i))]);
      });
    await fc.assert(
      fc.asyncProperty(rawPath, async (path) => {
        const head = Buffer.concat([
          Buffer.from('POST '),
          path,
          Buffer.from(` HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_KEY}\r\nContent-Length: 2\r\n\r\n{}`),
        ]);
        const reply = await rawExchange(api.port, head);
        expect(reply).toMatch(/^HTTP\/1\.1 4\d\d /);
        // Whether express answered or Node's parser refused the request line (then invoq's
        // clientError handler answers and closes), the answer says why, with a request id.
        expect(reply).toMatch(/^x-amzn-requestid: \S+/im);
        expect(reply).toMatch(/^x-amzn-errortype: \w+/im);
        // Lambda's shape ({Message}), or API Gateway's ({message}) when the line still parses to a
        // gateway path that no route serves.
        const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as { Message?: unknown; message?: unknown };
        expect(typeof (body.Message ?? body.message)).toBe('string');
      }),
      { numRuns: 200 },
    );
    await expectHealthy();
  }, 30_000);
});

describe('requests Node refuses before express sees them', () => {
  it('answers headers over 16 KB with 431 and a message, and a malformed one with 400', async () => {
    const huge = await rawExchange(api.port, Buffer.from(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`));
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
    expect(huge).toMatch(/^x-amzn-errortype: RequestTooLargeException\r$/im);
    expect(huge).toMatch(/\{"Type":"User","Message":"The request headers are too large\."\}$/);
    const twoLengths = await rawExchange(api.port, Buffer.from('POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n{}'));
    expect(twoLengths).toMatch(/^HTTP\/1\.1 400 /);
    expect(twoLengths).toMatch(/^x-amzn-errortype: InvalidRequestContentException\r$/im);
    await expectHealthy();
  });
});

/** Writes bytes on a fresh connection and reads until the server closes it (or 5 s pass). */
function rawExchange(port: number, bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer within 5 s to ${JSON.stringify(bytes.toString('latin1').slice(0, 80))}`)));
    socket.on('data', (b) => {
      reply += b.toString('latin1');
      // A complete answer on a kept-alive connection: close it ourselves.
      if (/\r\n\r\n/.test(reply) && !/connection: close/i.test(reply)) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(reply));
    socket.write(bytes);
  });
}

// ---------------------------------------------------------------------------------------------
// (c) Credentials: API keys, Basic, SigV4 (valid and broken).

/** `denied`: 403 AccessDeniedException on every endpoint (a user access key's secret sent as Basic). */
type Who = 'user' | 'admin' | 'refused' | 'missing' | 'either' | 'denied';
interface Endpoint {
  method: string;
  path: string;
  body: string;
  admin: boolean;
  surface: Surface;
  check: (a: Answer) => void;
}
const endpoints: Endpoint[] = [
  {
    method: 'POST',
    path: INVOKE_ECHO,
    body: '{"auth":"probe"}',
    admin: false,
    surface: 'lambda',
    check: (a) => check(a.text === '{"auth":"probe"}', 'not an echo', a),
  },
  {
    method: 'GET',
    path: '/2015-03-31/functions',
    body: '',
    admin: false,
    surface: 'lambda',
    check: (a) => check(Array.isArray((JSON.parse(a.text) as { Functions: unknown }).Functions), 'no Functions', a),
  },
  { method: 'GET', path: '/orders/42', body: '', admin: false, surface: 'gateway', check: jsonField('orderId', '42') },
  {
    method: 'GET',
    path: '/dlq',
    body: '',
    admin: true,
    surface: 'lambda',
    check: (a) => check(Array.isArray((JSON.parse(a.text) as { items: unknown }).items), 'no items', a),
  },
];

async function sigv4(
  port: number,
  e: Endpoint,
  options: { key?: typeof USER_AKID; service?: string; skewMs?: number; contentSha?: string },
): Promise<Record<string, string>> {
  const host = `127.0.0.1:${port}`;
  const signer = new SignatureV4({
    credentials: options.key ?? USER_AKID,
    region: 'us-east-1',
    service: options.service ?? 'lambda',
    sha256: Hash.bind(null, 'sha256'),
  });
  const headers: Record<string, string> = { host, ...(options.contentSha ? { 'x-amz-content-sha256': options.contentSha } : {}) };
  const signed = await signer.sign(new HttpRequest({ method: e.method, protocol: 'http:', hostname: host, path: e.path, headers, body: e.body }), {
    signingDate: new Date(Date.now() + (options.skewMs ?? 0)),
  });
  return signed.headers as Record<string, string>;
}

type Credential = (port: number, e: Endpoint) => Promise<{ who: Who; headers: Record<string, string | string[]>; body?: string }>;
const plain =
  (who: Who, headers: Record<string, string | string[]>): Credential =>
  async () => ({ who, headers });
const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
const withAuth = (h: Record<string, string>, f: (auth: string) => string) => ({ ...h, authorization: f(h.authorization ?? '') });
const notAKey = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => ![USER_KEY, ADMIN_KEY].includes(s.trim()));

const credential: fc.Arbitrary<Credential> = fc.oneof(
  // Weighted so each of these is drawn about six times in 500 runs.
  {
    weight: 4,
    arbitrary: fc.constantFrom<Credential>(
      plain('missing', {}),
      plain('user', { authorization: `Bearer ${USER_KEY}` }),
      plain('admin', { authorization: `Bearer ${ADMIN_KEY}` }),
      plain('user', { authorization: `Bearer    ${USER_KEY}   ` }),
      plain('user', { 'x-api-key': USER_KEY }),
      plain('admin', { 'x-api-key': ADMIN_KEY }),
      plain('user', { authorization: basic(`anyone:${USER_KEY}`) }),
      plain('admin', { authorization: basic(`:${ADMIN_KEY}`) }),
      // An admin access key id and its secret open what an admin key opens (the dashboard in a browser).
      plain('admin', { authorization: basic(`${ADMIN_AKID.accessKeyId}:${ADMIN_AKID.secretAccessKey}`) }),
      plain('denied', { authorization: basic(`${USER_AKID.accessKeyId}:${USER_AKID.secretAccessKey}`) }),
      plain('refused', { authorization: basic(`${ADMIN_AKID.accessKeyId}:${USER_AKID.secretAccessKey}`) }),
      plain('refused', { authorization: basic(`anyone:${ADMIN_AKID.secretAccessKey}`) }),
      plain('refused', { authorization: basic(`${ADMIN_AKID.secretAccessKey}:${ADMIN_AKID.accessKeyId}`) }),
      plain('refused', { authorization: 'Bearer' }),
      plain('refused', { authorization: 'Bearer ' }),
      plain('refused', { 'x-api-key': '' }),
      plain('refused', { authorization: basic(`${USER_KEY}:`) }),
      plain('refused', { authorization: 'Basic !!!!' }),
      plain('refused', { authorization: `Token ${USER_KEY}` }),
      plain('refused', { authorization: 'AWS4-HMAC-SHA256' }),
      plain('refused', {
        authorization: `AWS4-HMAC-SHA256 Credential=${USER_AKID.accessKeyId}/20200101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
      }),
      // RFC 7235 makes the scheme case-insensitive; a key without "user:" is still the password.
      plain('either', { authorization: `bearer ${USER_KEY}` }),
      plain('either', { authorization: basic(USER_KEY) }),
      plain('either', { authorization: `Bearer ${USER_KEY}`, 'x-api-key': 'wrong' }),
      plain('either', { 'x-api-key': [USER_KEY, USER_KEY] }),
      async (port, e) => ({ who: 'user', headers: await sigv4(port, e, {}) }),
      async (port, e) => ({ who: 'admin', headers: await sigv4(port, e, { key: ADMIN_AKID }) }),
      async (port, e) => ({ who: 'user', headers: await sigv4(port, e, { contentSha: createHash('sha256').update(e.body).digest('hex') }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { contentSha: createHash('sha256').update('other').digest('hex') }) }),
      // A signature that does not cover the body.
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { contentSha: 'UNSIGNED-PAYLOAD' }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { contentSha: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { key: { ...USER_AKID, secretAccessKey: 'wrong' } }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { key: { accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' } }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { service: 'execute-api' }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { skewMs: -20 * 60_000 }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, { skewMs: 20 * 60_000 }) }),
      async (port, e) => ({ who: 'refused', headers: await sigv4(port, e, {}), body: `${e.body} ` }),
      async (port, e) => {
        const { 'x-amz-date': _, ...headers } = await sigv4(port, e, {});
        return { who: 'refused', headers };
      },
      async (port, e) => ({
        who: 'refused',
        headers: withAuth(await sigv4(port, e, {}), (a) => a.replace(/SignedHeaders=([^,]*)/, 'SignedHeaders=x-amz-date')),
      }),
      async (port, e) => ({ who: 'refused', headers: withAuth(await sigv4(port, e, {}), (a) => a.replace(/SignedHeaders=/, 'SignedHeaders=x-missing;')) }),
      async (port, e) => ({ who: 'refused', headers: withAuth(await sigv4(port, e, {}), (a) => a.replace(/.$/, (c) => (c === '0' ? '1' : '0'))) }),
      async (port, e) => ({
        who: 'refused',
        headers: withAuth(await sigv4(port, e, {}), (a) => a.replace(/Signature=(\w+)/, (_, s: string) => `Signature=${s.toUpperCase()}`)),
      }),
      async (port, e) => ({ who: 'refused', headers: withAuth(await sigv4(port, e, {}), (a) => a.toLowerCase()) }),
    ),
  },
  notAKey.map((k) => plain('refused', { authorization: `Bearer ${k}` })),
  notAKey.map((k) => plain('refused', { 'x-api-key': k })),
  notAKey.map((k) => plain('refused', { authorization: basic(`user:${k}`) })),
  headerText(80).map((junk) => plain('refused', { authorization: `AWS4-HMAC-SHA256 ${junk}` })),
  fc.nat().map((cut): Credential => async (port, e) => {
    const headers = await sigv4(port, e, {});
    return { who: 'refused', headers: withAuth(headers, (a) => a.slice(0, cut % a.length)) };
  }),
);

const REFUSALS = ['401 UnrecognizedClientException', '403 UnrecognizedClientException', '403 InvalidSignatureException'];
function checkAuth(e: Endpoint, who: Who, a: Answer): void {
  check(a.status < 500, 'a 5xx', a);
  const refusal = `${a.status} ${String(a.headers['x-amzn-errortype'])}`;
  const accepted = (admin: boolean) => {
    if (e.admin && !admin) return check(refusal === '403 AccessDeniedException', 'a user key on an admin endpoint should be 403 AccessDenied', a);
    check(a.status === 200, 'expected 200', a);
    e.check(a);
  };
  if (who === 'user' || who === 'admin') return accepted(who === 'admin');
  if (who === 'missing') check(refusal === '401 UnrecognizedClientException', 'expected 401 UnrecognizedClientException', a);
  if (who === 'either' && a.status < 400) return accepted(false);
  if (who === 'denied') check(refusal === '403 AccessDeniedException', 'expected 403 AccessDeniedException', a);
  else check(REFUSALS.includes(refusal) || (who === 'either' && refusal === '403 AccessDeniedException'), `expected one of ${REFUSALS.join(', ')}`, a);
  if (e.surface === 'lambda') checkLambdaError(a, e.method);
  else check(typeof (JSON.parse(a.text) as { message?: unknown }).message === 'string', 'a gateway refusal without {message}', a);
}

describe('(c) credentials: Bearer, x-api-key, Basic, SigV4 (valid and broken)', () => {
  it('accepts exactly the valid ones over 500 cases, refusing the rest with 401/403; never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...endpoints), credential, async (e, cred) => {
        const { who, headers, body } = await cred(api.port, e);
        checkAuth(e, who, await send(api.port, { method: e.method, path: e.path, headers, body: body ?? (e.body || undefined) }));
      }),
      { numRuns: 500 },
    );
    await expectHealthy();
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// Deep JSON at the real limits: a second API with the default 6 MB / 256 KB.

describe('deep JSON at the default 6 MB sync limit (second API, default payload limits)', () => {
  it('answers 100,000 and 3,145,728 levels of [ with 200 or 4xx, 1 byte over with 413, and stays up', async () => {
    const limit = 6 * 1024 * 1024;
    const full = await startApi(testConfig({ INVOQ_QUEUE_PREFIX: uniquePrefix('fuzz-6mb'), INVOQ_API_KEYS: USER_KEY }), silentLogger());
    try {
      const invoke = (body: string, type = 'RequestResponse') =>
        send(full.port, { method: 'POST', path: INVOKE_ECHO, headers: { authorization: `Bearer ${USER_KEY}`, 'x-amz-invocation-type': type }, body });
      const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
      const atLimit = deep(limit / 2);
      expect(atLimit.length).toBe(limit);
      for (const body of [deep(100_000), atLimit]) {
        const a = await invoke(body);
        // 200 (echo's answer, or its function error: too deep to serialise, out of memory) or a 4xx.
        check(a.status === 200 || (a.status >= 400 && a.status < 500), `${body.length} B: expected 200 or a 4xx`, a);
        if (a.status >= 400) checkLambdaError(a);
      }
      expect((await invoke(atLimit, 'DryRun')).status).toBe(204);
      // Event's limit is 256 KB; the API itself parses the body to check it is JSON.
      expect((await invoke(deep(100_000), 'Event')).status).toBe(202);
      const over = await invoke(`${atLimit} `);
      expect([over.status, over.headers['x-amzn-errortype']]).toEqual([413, 'RequestTooLargeException']);
      const afterwards = await invoke('{"still":"here"}');
      expect([afterwards.status, afterwards.text]).toEqual([200, '{"still":"here"}']);
      expect((await send(full.port, { method: 'GET', path: '/healthz' })).status).toBe(200);
    } finally {
      await full.close();
    }
  }, 30_000);
});
