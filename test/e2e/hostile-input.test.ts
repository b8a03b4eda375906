/**
 * Hostile input, property-based (fast-check) over the real HTTP layer: malformed and oversized
 * bodies, odd headers and names, path tricks, deep JSON. Always a 4xx with a clear message,
 * never a 5xx, never a crash.
 */
import fc from 'fast-check';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { silentLogger, testConfig, uniquePrefix } from '../support/harness';

let api: ApiService;
beforeAll(async () => {
  api = await startApi(testConfig({ INVOQ_QUEUE_PREFIX: uniquePrefix('fuzz'), INVOQ_SYNC_PAYLOAD_LIMIT: '2048', INVOQ_ASYNC_PAYLOAD_LIMIT: '1024', INVOQ_API_KEYS: 'k' }), silentLogger());
});
afterAll(async () => {
  await api?.close();
});

const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const nameTricks = fc.constantFrom('echo', 'nope', '..', '%2E%2E', '%2F..%2Fetc', '__proto__', 'constructor', 'a%00b', '%', '%E0%A4%A', 'echo:$LATEST', 'echo:1', 'arn:aws:lambda:us-east-1:123456789012:function:echo', 'x'.repeat(300));
const functionName = fc.oneof(nameTricks, printable(80).map(encodeURIComponent));
const path = fc.oneof(
  functionName.map((n) => `/2015-03-31/functions/${n}/invocations`),
  functionName.map((n) => `/2015-03-31/functions/${n}`),
  functionName.map((n) => `/invocations/${n}`),
  functionName.map((n) => `/dlq/${n}`),
  printable(60).map((p) => `/${p.replace(/[?#]/g, '')}`),
  // The example functions' gateway routes.
  fc.tuple(fc.constantFrom('/getOrder', '/orders/', '/putOrder', '/orders'), printable(40)).map(([route, tail]) => `${route}${encodeURIComponent(tail)}`),
  fc.constantFrom('/getOrder?__proto__=x&orderId=42', '/orders/42?constructor=1&__proto__[a]=b', '/..%2F..%2Fetc/passwd', '/2015-03-31/functions/echo/invocations?Qualifier=%00', '/admin/queues/../../dlq', '//2015-03-31//functions//echo//invocations'),
);
const deepJson = fc.integer({ min: 1, max: 5000 }).map((n) => '['.repeat(n) + ']'.repeat(n));
const body = fc.oneof(fc.json({ maxDepth: 4 }), printable(300), deepJson, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')), fc.constant('x'.repeat(5000)));
const headerValue = fc.oneof(printable(40), fc.constantFrom('Event', 'RequestResponse', 'DryRun', 'Tail', 'None', '', 'e30=', '!!!'));

it('answers every request without a 5xx (1,000 cases)', async () => {
  const base = `http://127.0.0.1:${api.port}`;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      path,
      body,
      fc.record({ 'x-amz-invocation-type': headerValue, 'x-amz-log-type': headerValue, 'x-amz-client-context': headerValue, 'idempotency-key': headerValue, 'content-type': headerValue }, { requiredKeys: [] }),
      fc.constantFrom('Bearer k', 'Bearer wrong', '', 'AWS4-HMAC-SHA256 Credential=x', 'Basic Zm9vOms='),
      async (method, p, payload, headers, authorization) => {
        const res = await fetch(`${base}${p}`, {
          method,
          headers: { ...headers, ...(authorization ? { authorization } : {}) },
          body: method === 'GET' ? undefined : payload,
        });
        const text = await res.text();
        if (res.status >= 500) throw new Error(`${res.status} for ${method} ${p}: ${text.slice(0, 200)}`);
        if (res.status >= 400 && res.status !== 404) {
          // A message to read: Lambda's {Message} with a name to switch on, or API Gateway's
          // {message} on a gateway route (from invoq, or from the example function itself).
          const error = JSON.parse(text) as { Message?: string; message?: string };
          expect((error.Message ?? error.message ?? '').length).toBeGreaterThan(0);
          if (error.Message !== undefined) expect(res.headers.get('x-amzn-errortype')).toBeTruthy();
        }
      },
    ),
    { numRuns: 1000 },
  );
  // Still alive and well.
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
}, 120_000);
