/**
 * docs/openapi.yaml against the code: the document is valid OpenAPI 3.1 (checked with
 * @seriousme/openapi-schema-validator), and real answers of a real API and worker, for every
 * documented operation, match the document's response for that path, method and status
 * (headers and body, checked with ajv's 2020-12 draft, which OpenAPI 3.1's schemas are). An
 * answer whose status the document does not list fails, and so does an operation the document
 * lists that no check reached.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import YAML from 'yaml';
import { startStack, type Stack } from '../support/stack';
import { REPO_ROOT, makeFunctionsDir, testConfig, uniquePrefix, waitFor } from '../support/harness';

const DOC_PATH = path.join(REPO_ROOT, 'docs/openapi.yaml');
type Json = any;
const doc: Json = YAML.parse(fs.readFileSync(DOC_PATH, 'utf8'), { uniqueKeys: true });
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

// --- the document's schemas, for ajv -----------------------------------------------------------

const COMPONENTS_ID = 'urn:invoq:openapi:components';
/** `#/components/schemas/X` becomes a reference into one schema that holds them all as `$defs`. */
function rewriteRefs(node: Json): Json {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    out[k] =
      k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
        ? `${COMPONENTS_ID}#/$defs/${v.slice('#/components/schemas/'.length)}`
        : rewriteRefs(v);
  }
  return out;
}
const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ $id: COMPONENTS_ID, $defs: rewriteRefs(doc.components.schemas) });

const compiled = new Map<string, ValidateFunction>();
function validatorFor(key: string, schema: Json): ValidateFunction {
  let v = compiled.get(key);
  if (!v) {
    v = ajv.compile(rewriteRefs(schema ?? {}));
    compiled.set(key, v);
  }
  return v;
}

/** A local `$ref` (`#/components/responses/X`, `#/components/headers/X`) resolved. */
function deref(node: Json): Json {
  if (!node || typeof node.$ref !== 'string') return node;
  const parts = (node.$ref as string)
    .replace(/^#\//, '')
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let target: Json = doc;
  for (const p of parts) target = target?.[p];
  if (target === undefined) throw new Error(`unresolved $ref ${node.$ref}`);
  return deref(target);
}

/** Every (path, method, status) the document lists whose answer was checked. */
const checked = new Set<string>();

interface Checked {
  status: number;
  headers: Headers;
  body: Json;
}

/** Checks a real answer against the document; fails on a status the document does not list. */
async function check(res: Response, template: string, method: string): Promise<Checked> {
  const op = doc.paths[template]?.[method];
  if (!op) throw new Error(`${method.toUpperCase()} ${template} is not in docs/openapi.yaml`);
  const documented = op.responses[String(res.status)];
  if (!documented)
    throw new Error(`${method.toUpperCase()} ${template} → ${res.status}: this status is not documented (body: ${(await res.text()).slice(0, 300)})`);
  const key = `${method} ${template} ${res.status}`;
  const checkedAnswer = await checkAgainst(res, deref(documented), `${method.toUpperCase()} ${template} → ${res.status}`, key);
  checked.add(key);
  return checkedAnswer;
}

/** Checks an answer's headers and body against one response object of the document. */
async function checkAgainst(res: Response, response: Json, where: string, key: string): Promise<Checked> {
  const text = await res.text();
  for (const [name, raw] of Object.entries<Json>(response.headers ?? {})) {
    const header = deref(raw);
    const value = res.headers.get(name);
    if (value === null) {
      if (header.required) throw new Error(`${where}: required header ${name} is missing`);
      continue;
    }
    const v = validatorFor(`${key} header ${name}`, header.schema);
    if (!v(value)) throw new Error(`${where}: header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(v.errors)}`);
  }
  let body: Json = text;
  if (!response.content) {
    if (text !== '') throw new Error(`${where}: the document says no body, got ${text.slice(0, 300)}`);
  } else {
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const media = response.content[type] ?? response.content['*/*'];
    if (!media) throw new Error(`${where}: content type ${type || '(none)'} is not documented (${Object.keys(response.content).join(', ')})`);
    if (type === 'application/json') body = JSON.parse(text);
    const v = validatorFor(`${key} body ${type}`, media.schema);
    if (!v(body)) throw new Error(`${where}: body ${text.slice(0, 500)}: ${ajv.errorsText(v.errors)}`);
  }
  return { status: res.status, headers: res.headers, body };
}

/** Validates a value against one of the document's component schemas. */
function expectSchema(name: string, value: Json): void {
  const v = validatorFor(`component ${name}`, { $ref: `#/components/schemas/${name}` });
  if (!v(value)) throw new Error(`${name}: ${JSON.stringify(value).slice(0, 500)}: ${ajv.errorsText(v.errors)}`);
}

// --- the service -------------------------------------------------------------------------------

const USER_KEY = 'user-key-openapi';
const ADMIN_KEY = 'admin-key-openapi';
const ACCESS_KEY = { id: 'AKIDOPENAPI', secret: 'openapi-secret' };
const functionsDir = makeFunctionsDir({
  ok: {
    config: { handler: 'index.handler', environment: { GREETING: 'hi' } },
    files: {
      'index.js': 'exports.handler = async (event, context) => { console.log("ran"); return { event, clientContext: context.clientContext ?? null }; };',
    },
  },
  boom: {
    config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 0 } },
    files: { 'index.js': 'exports.handler = async () => { throw new Error("boom"); };' },
  },
  big: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => "x".repeat(70 * 1024);' } },
  fragile: {
    config: { handler: 'index.handler', circuitBreaker: { errorThresholdPercentage: 50, volumeThreshold: 2, resetTimeoutMs: 60000 } },
    files: { 'index.js': 'exports.handler = async () => { throw new Error("fragile"); };' },
  },
  napper: {
    config: { handler: 'index.handler', timeout: 5, reservedConcurrency: 1 },
    files: { 'index.js': 'exports.handler = async () => { await new Promise((r) => setTimeout(r, 1000)); return "rested"; };' },
  },
});
const config = testConfig({
  INVOQ_FUNCTIONS_DIR: functionsDir,
  INVOQ_QUEUE_PREFIX: uniquePrefix('openapi'),
  INVOQ_API_KEYS: USER_KEY,
  INVOQ_ADMIN_KEYS: ADMIN_KEY,
  INVOQ_AWS_CREDENTIALS: `${ACCESS_KEY.id}:${ACCESS_KEY.secret}`,
  INVOQ_RETRY_BASE_DELAY_MS: '20',
  INVOQ_SYNC_PAYLOAD_LIMIT: '4096',
  INVOQ_ASYNC_PAYLOAD_LIMIT: '1024',
});
let stack: Stack;

beforeAll(async () => {
  stack = await startStack(config);
});
afterAll(async () => {
  await stack?.close();
  fs.rmSync(functionsDir, { recursive: true, force: true });
});

interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  /** The API key to send (`x-api-key`); `null` sends none. Defaults to the user key. */
  key?: string | null;
  /** `bearer` sends the key as `Authorization: Bearer`. */
  as?: 'apiKey' | 'bearer';
}

async function call(method: string, template: string, options: CallOptions = {}): Promise<Checked> {
  const pathname = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = options.params?.[name];
    if (value === undefined) throw new Error(`no value for {${name}}`);
    return encodeURIComponent(value);
  });
  const query = options.query ? `?${new URLSearchParams(options.query)}` : '';
  const key = options.key === undefined ? USER_KEY : options.key;
  const headers: Record<string, string> = { ...options.headers };
  if (key !== null) {
    if (options.as === 'bearer') headers.authorization = `Bearer ${key}`;
    else headers['x-api-key'] = key;
  }
  const res = await fetch(`${stack.base}${pathname}${query}`, { method: method.toUpperCase(), headers, body: options.body });
  return check(res, template, method);
}

/** A request signed with SigV4 as the SDKs sign it (@smithy/signature-v4, their own signer). */
async function signedCall(method: string, template: string, params: Record<string, string>, body: string, secret = ACCESS_KEY.secret): Promise<Checked> {
  const pathname = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name]!));
  const host = new URL(stack.base).host;
  const signer = new SignatureV4({
    credentials: { accessKeyId: ACCESS_KEY.id, secretAccessKey: secret },
    region: 'us-east-1',
    service: 'lambda',
    sha256: Hash.bind(null, 'sha256'),
  });
  const request = await signer.sign(
    new HttpRequest({ method: method.toUpperCase(), protocol: 'http:', hostname: host, path: pathname, headers: { host }, body }),
  );
  // fetch sets the same Host itself.
  const headers: Record<string, string> = { ...request.headers };
  delete headers.host;
  const res = await fetch(`${stack.base}${pathname}`, { method: method.toUpperCase(), headers, body: body === '' ? undefined : body });
  return check(res, template, method);
}

const INVOKE = '/2015-03-31/functions/{FunctionName}/invocations';
const EIC = '/2019-09-25/functions/{FunctionName}/event-invoke-config';

// --- the document itself -----------------------------------------------------------------------

/** @seriousme/openapi-schema-validator is an ES module only: it runs in a child Node. */
const OPENAPI_VALIDATOR = pathToFileURL(require.resolve('@seriousme/openapi-schema-validator')).href;

/** The validator's verdict on a parsed document. */
function validateDocument(document: Json): { valid: boolean; errors?: unknown } {
  const script = `const { Validator } = await import(process.argv[1]);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const result = await new Validator().validate(JSON.parse(input));
process.stdout.write(JSON.stringify({ valid: result.valid, errors: result.errors }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, OPENAPI_VALIDATOR], { input: JSON.stringify(document), encoding: 'utf8' });
  return JSON.parse(out) as { valid: boolean; errors?: unknown };
}

test('docs/openapi.yaml is a valid OpenAPI 3.1 document', () => {
  expect(doc.openapi).toMatch(/^3\.1\./);
  expect(validateDocument(doc)).toEqual({ valid: true });
  // The validator is live: a response without its required description is refused.
  const broken = structuredClone(doc);
  delete broken.paths['/healthz'].get.responses['200'].description;
  expect(validateDocument(broken).valid).toBe(false);
});

test('every schema in the document compiles under JSON Schema 2020-12, every reference resolves', () => {
  for (const [template, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      expect(op.responses).toBeDefined();
      for (const [status, raw] of Object.entries<Json>(op.responses)) {
        const response = deref(raw);
        expect(typeof response.description).toBe('string');
        // Every answer carries a request id.
        expect(deref(response.headers?.['x-amzn-RequestId'])?.required).toBe(true);
        for (const [name, header] of Object.entries<Json>(response.headers ?? {}))
          validatorFor(`${method} ${template} ${status} header ${name}`, deref(header).schema);
        for (const [type, media] of Object.entries<Json>(response.content ?? {})) validatorFor(`${method} ${template} ${status} body ${type}`, media.schema);
        // Lambda's error shape on every error but /readyz's own.
        if (Number(status) >= 400 && template !== '/readyz') expect(deref(response.headers?.['x-amzn-ErrorType'])?.required).toBe(true);
      }
    }
  }
});

// --- real answers ------------------------------------------------------------------------------

test('health and metrics, without a key', async () => {
  await call('get', '/healthz', { key: null });
  await call('get', '/readyz', { key: null });
  const metrics = await call('get', '/metrics', { key: null });
  expect(metrics.body).toContain('invoq_invocations_total');
});

test('Invoke: RequestResponse, function errors, Tail, client context, DryRun', async () => {
  const clientContext = Buffer.from(JSON.stringify({ custom: { a: 1 } })).toString('base64');
  const ok = await call('post', INVOKE, {
    params: { FunctionName: 'ok' },
    headers: { 'X-Amz-Log-Type': 'Tail', 'X-Amz-Client-Context': clientContext },
    body: JSON.stringify({ n: 1 }),
    as: 'bearer',
  });
  expect(ok.body.event).toEqual({ n: 1 });
  expect(ok.headers.get('x-amz-log-result')).toBeTruthy();
  expect(ok.headers.get('x-amz-function-error')).toBeNull();

  const failed = await call('post', INVOKE, { params: { FunctionName: 'boom' }, query: { Qualifier: '$LATEST' }, body: '{}' });
  expect(failed.headers.get('x-amz-function-error')).toBe('Unhandled');
  expectSchema('FunctionError', failed.body);

  const byArn = await call('post', INVOKE, { params: { FunctionName: 'arn:aws:lambda:us-east-1:123456789012:function:ok' }, body: '' });
  expect(byArn.body.event).toEqual({});

  expect((await call('post', INVOKE, { params: { FunctionName: 'ok' }, headers: { 'X-Amz-Invocation-Type': 'DryRun' } })).status).toBe(204);
});

test('Invoke: Event answers 202 with the event id', async () => {
  const accepted = await call('post', INVOKE, { params: { FunctionName: 'ok' }, headers: { 'X-Amz-Invocation-Type': 'Event' }, body: '{"e":1}' });
  expect(accepted.status).toBe(202);
  const status = await call('get', '/invocations/{requestId}', { params: { requestId: accepted.headers.get('x-amzn-requestid')! }, query: { wait: '10' } });
  expect(status.body).toMatchObject({ status: 'succeeded', functionName: 'ok', result: { event: { e: 1 } } });

  // The same Idempotency-Key answers the first event's id.
  const once = () =>
    call('post', INVOKE, { params: { FunctionName: 'ok' }, headers: { 'X-Amz-Invocation-Type': 'Event', 'Idempotency-Key': 'openapi-once' }, body: '{}' });
  const first = (await once()).headers.get('x-amzn-requestid');
  expect((await once()).headers.get('x-amzn-requestid')).toBe(first);

  // A result over 64 KB is kept only as resultTruncated.
  const bigEvent = await call('post', INVOKE, { params: { FunctionName: 'big' }, headers: { 'X-Amz-Invocation-Type': 'Event' } });
  const bigStatus = await call('get', '/invocations/{requestId}', { params: { requestId: bigEvent.headers.get('x-amzn-requestid')! }, query: { wait: '10' } });
  expect(bigStatus.body).toMatchObject({ status: 'succeeded', resultTruncated: true });
  expect(bigStatus.body.result).toBeUndefined();
});

test('Invoke: the error answers', async () => {
  const ok = { FunctionName: 'ok' };
  const notFound = await call('post', INVOKE, { params: { FunctionName: 'nope' }, body: '{}' });
  expect(notFound.status).toBe(404);
  expect((await call('post', INVOKE, { params: ok, query: { Qualifier: '7' }, body: '{}' })).status).toBe(404);
  const badType = await call('post', INVOKE, { params: ok, headers: { 'X-Amz-Invocation-Type': 'Sometimes' }, body: '{}' });
  expect(badType.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
  const badLog = await call('post', INVOKE, { params: ok, headers: { 'X-Amz-Log-Type': 'All' }, body: '{}' });
  expect(badLog.status).toBe(400);
  const badContext = await call('post', INVOKE, { params: ok, headers: { 'X-Amz-Client-Context': Buffer.from('not json').toString('base64') }, body: '{}' });
  expect(badContext.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
  const notJsonEvent = await call('post', INVOKE, { params: ok, headers: { 'X-Amz-Invocation-Type': 'Event' }, body: '{nope' });
  expect(notJsonEvent.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
  const notJsonSync = await call('post', INVOKE, { params: ok, body: '{nope' });
  expect(notJsonSync.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');

  expect((await call('post', INVOKE, { params: ok, body: '{}', key: null })).status).toBe(401);
  const unknownKey = await call('post', INVOKE, { params: ok, body: '{}', key: 'wrong' });
  expect(unknownKey.headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
  expect(unknownKey.status).toBe(403);

  const big = JSON.stringify({ pad: 'x'.repeat(5000) });
  expect((await call('post', INVOKE, { params: ok, body: big })).status).toBe(413);
  expect(
    (await call('post', INVOKE, { params: ok, headers: { 'X-Amz-Invocation-Type': 'Event' }, body: JSON.stringify({ pad: 'x'.repeat(2000) }) })).status,
  ).toBe(413);
});

test('Invoke: SigV4, signed right and wrong', async () => {
  const ok = await signedCall('post', INVOKE, { FunctionName: 'ok' }, '{"signed":true}');
  expect(ok.body.event).toEqual({ signed: true });
  const wrong = await signedCall('post', INVOKE, { FunctionName: 'ok' }, '{}', 'not-the-secret');
  expect(wrong.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
});

test("Invoke: 503 while the function's circuit breaker is open", async () => {
  for (let i = 0; i < 2; i++)
    expect((await call('post', INVOKE, { params: { FunctionName: 'fragile' }, body: '{}' })).headers.get('x-amz-function-error')).toBe('Unhandled');
  const open = await call('post', INVOKE, { params: { FunctionName: 'fragile' }, body: '{}' });
  expect(open.status).toBe(503);
  expect(open.headers.get('retry-after')).toMatch(/^[0-9]+$/);
});

test('Invoke: 429 when the reserved concurrency is in use', async () => {
  const first = call('post', INVOKE, { params: { FunctionName: 'napper' }, body: '{}' });
  // Wait until the first call runs (it holds the one slot for a second), however loaded the machine.
  await waitFor(
    async () => /invoq_concurrent_executions\{[^}]*function="napper"[^}]*\} 1\b/.test(await (await fetch(`${stack.base}/metrics`)).text()),
    5_000,
    'the first call to run',
  );
  const second = await call('post', INVOKE, { params: { FunctionName: 'napper' }, body: '{}' });
  expect(second.status).toBe(429);
  expect(second.body.Reason).toBe('ReservedFunctionConcurrentInvocationLimitExceeded');
  expect((await first).status).toBe(200);
});

test('ListFunctions, GetFunction, GetFunctionConfiguration', async () => {
  const all = await call('get', '/2015-03-31/functions');
  expect(all.body.Functions.map((f: Json) => f.FunctionName)).toEqual(['big', 'boom', 'fragile', 'napper', 'ok']);
  expect(all.body.Functions[0].Environment).toBeUndefined();
  const page = await call('get', '/2015-03-31/functions', { query: { MaxItems: '1' } });
  expect(page.body.NextMarker).toEqual(expect.any(String));
  await call('get', '/2015-03-31/functions', { query: { MaxItems: '1', Marker: page.body.NextMarker } });
  expect((await call('get', '/2015-03-31/functions', { query: { MaxItems: '0' } })).status).toBe(400);
  expect((await call('get', '/2015-03-31/functions', { key: null })).status).toBe(401);

  const user = await call('get', '/2015-03-31/functions/{FunctionName}', { params: { FunctionName: 'napper' } });
  expect(user.body.Concurrency).toEqual({ ReservedConcurrentExecutions: 1 });
  const admin = await call('get', '/2015-03-31/functions/{FunctionName}', { params: { FunctionName: 'ok' }, key: ADMIN_KEY });
  expect(admin.body.Configuration.Environment).toEqual({ Variables: { GREETING: 'hi' } });
  expect((await call('get', '/2015-03-31/functions/{FunctionName}', { params: { FunctionName: 'nope' } })).status).toBe(404);
  expect((await call('get', '/2015-03-31/functions/{FunctionName}', { params: { FunctionName: 'ok' }, key: 'wrong' })).status).toBe(403);

  await call('get', '/2015-03-31/functions/{FunctionName}/configuration', { params: { FunctionName: 'ok' } });
  expect((await call('get', '/2015-03-31/functions/{FunctionName}/configuration', { params: { FunctionName: 'nope' } })).status).toBe(404);
});

test('the event-invoke-config calls', async () => {
  const ok = { FunctionName: 'ok' };
  expect((await call('get', EIC, { params: ok })).status).toBe(404);
  expect((await call('get', `${EIC}/list`, { params: ok })).body.FunctionEventInvokeConfigs).toEqual([]);
  const boomList = await call('get', `${EIC}/list`, { params: { FunctionName: 'boom' } });
  expect(boomList.body.FunctionEventInvokeConfigs).toHaveLength(1);
  expect((await call('get', EIC, { params: { FunctionName: 'nope' } })).status).toBe(404);

  const put = JSON.stringify({ MaximumRetryAttempts: 1, DestinationConfig: { OnSuccess: { Destination: 'http://127.0.0.1:1/ok' } } });
  const denied = await call('put', EIC, { params: ok, body: put });
  expect(denied.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
  expect((await call('post', EIC, { params: ok, body: put })).status).toBe(403);
  expect((await call('delete', EIC, { params: ok })).status).toBe(403);
  expect((await call('post', EIC, { params: ok, body: put, key: ADMIN_KEY })).status).toBe(404);

  expect((await call('put', EIC, { params: ok, body: put, key: ADMIN_KEY })).body).toMatchObject({ MaximumRetryAttempts: 1 });
  expect((await call('put', EIC, { params: ok, body: '{}', key: ADMIN_KEY })).status).toBe(400);
  expect((await call('put', EIC, { params: ok, body: '{nope', key: ADMIN_KEY })).status).toBe(400);
  expect((await call('put', EIC, { params: ok, body: '{"MaximumRetryAttempts":7}', key: ADMIN_KEY })).status).toBe(400);
  expect((await call('put', EIC, { params: ok, body: JSON.stringify({ MaximumRetryAttempts: 1, pad: 'x'.repeat(5000) }), key: ADMIN_KEY })).status).toBe(413);
  const updated = await call('post', EIC, { params: ok, body: '{"MaximumEventAgeInSeconds":600}', key: ADMIN_KEY });
  expect(updated.body).toMatchObject({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 600 });
  await call('get', EIC, { params: ok });
  expect((await call('get', `${EIC}/list`, { params: ok })).body.FunctionEventInvokeConfigs).toHaveLength(1);
  expect((await call('delete', EIC, { params: ok, key: ADMIN_KEY })).status).toBe(204);
  expect((await call('delete', EIC, { params: ok, key: ADMIN_KEY })).status).toBe(404);
});

test('GET /invocations/{requestId}: unknown ids and bad waits', async () => {
  const path_ = '/invocations/{requestId}';
  expect((await call('get', path_, { params: { requestId: 'no-such-event' } })).status).toBe(404);
  expect((await call('get', path_, { params: { requestId: 'x' }, query: { wait: 'soon' } })).status).toBe(400);
  expect((await call('get', path_, { params: { requestId: 'x' }, query: { wait: '31' } })).status).toBe(400);
  expect((await call('get', path_, { params: { requestId: 'x' }, key: null })).status).toBe(401);
});

test('the dead-letter queue and its redrives', async () => {
  const fire = async () => {
    const res = await call('post', INVOKE, { params: { FunctionName: 'boom' }, headers: { 'X-Amz-Invocation-Type': 'Event' }, body: '{"order":1}' });
    return res.headers.get('x-amzn-requestid')!;
  };
  const [a, b] = [await fire(), await fire()];
  // Read while it may still be queued or running, then once it is dead-lettered.
  await call('get', '/invocations/{requestId}', { params: { requestId: a } });
  for (const id of [a, b]) {
    const done = await call('get', '/invocations/{requestId}', { params: { requestId: id }, query: { wait: '10' } });
    expect(done.body).toMatchObject({ status: 'dead-lettered', reason: 'RetriesExhausted', error: { errorType: 'Error', errorMessage: 'boom' } });
  }

  const admin = { key: ADMIN_KEY };
  // Auth: no key, an unknown key, a user key.
  expect((await call('get', '/dlq', { key: null })).status).toBe(401);
  expect((await call('get', '/dlq', { key: 'wrong' })).headers.get('x-amzn-errortype')).toBe('UnrecognizedClientException');
  expect((await call('get', '/dlq')).headers.get('x-amzn-errortype')).toBe('AccessDeniedException');

  const page = await call('get', '/dlq', { ...admin, query: { functionName: 'boom', limit: '1' } });
  expect(page.body.items).toHaveLength(1);
  expect(page.body.nextCursor).toEqual(expect.any(String));
  const rest = await call('get', '/dlq', { ...admin, query: { functionName: 'boom', cursor: page.body.nextCursor } });
  expect([...page.body.items, ...rest.body.items].map((e: Json) => e.requestId).sort()).toEqual([a, b].sort());
  await call('get', '/dlq', { ...admin, as: 'bearer' });
  expect((await call('get', '/dlq', { ...admin, query: { limit: '0' } })).status).toBe(400);
  expect((await call('get', '/dlq', { ...admin, query: { cursor: 'garbage' } })).status).toBe(400);
  expect((await call('get', '/dlq', { ...admin, query: { functionName: 'nope' } })).status).toBe(404);

  expect((await call('get', '/dlq/{requestId}', { ...admin, params: { requestId: a } })).body).toMatchObject({
    requestId: a,
    payload: { order: 1 },
    attempts: 1,
  });
  expect((await call('get', '/dlq/{requestId}', { ...admin, params: { requestId: 'no-such-event' } })).status).toBe(404);
  expect((await call('get', '/dlq/{requestId}', { params: { requestId: a } })).status).toBe(403);

  // A single redrive: back in the DLQ with its past in `redrives`.
  expect((await call('post', '/dlq/{requestId}/redrive', { ...admin, params: { requestId: a } })).body).toEqual({ requestId: a, redriven: true });
  expect((await call('post', '/dlq/{requestId}/redrive', { ...admin, params: { requestId: 'no-such-event' } })).status).toBe(404);
  expect((await call('post', '/dlq/{requestId}/redrive', { params: { requestId: a } })).status).toBe(403);
  await waitFor(
    async () => {
      const s = await call('get', '/invocations/{requestId}', { params: { requestId: a } });
      return s.body.status === 'dead-lettered' && s.body.redrives?.length === 1;
    },
    10_000,
    'the redriven event back in the DLQ',
  );
  expect((await call('get', '/dlq/{requestId}', { ...admin, params: { requestId: a } })).body.redrives).toHaveLength(1);

  // A bulk redrive, followed to its end.
  expect((await call('post', '/dlq/redrive', { ...admin, body: '[1]' })).status).toBe(400);
  expect((await call('post', '/dlq/redrive', { ...admin, body: '{"functionName":"nope"}' })).status).toBe(404);
  expect((await call('post', '/dlq/redrive', { body: '{}' })).status).toBe(403);
  expect((await call('post', '/dlq/redrive', { ...admin, body: JSON.stringify({ functionName: 'boom', pad: 'x'.repeat(5000) }) })).status).toBe(413);
  const bulk = await call('post', '/dlq/redrive', { ...admin, body: '{"functionName":"boom"}' });
  expect(bulk.body.redriven).toBe(2);
  const redriveId = bulk.body.redrives[0].redriveId as string;
  expect(bulk.headers.get('location')).toBe(`/dlq/redrives/${redriveId}`);
  await waitFor(
    async () => (await call('get', '/dlq/redrives/{redriveId}', { ...admin, params: { redriveId } })).body.state === 'finished',
    10_000,
    'the bulk redrive to finish',
  );
  for (const id of [a, b]) {
    await waitFor(
      async () => (await call('get', '/invocations/{requestId}', { params: { requestId: id } })).body.status === 'dead-lettered',
      10_000,
      'dead-lettered again',
    );
  }
  const all = await call('post', '/dlq/redrive', admin);
  expect(all.status).toBe(202);
  expect((await call('get', '/dlq/redrives', admin)).body.items.length).toBeGreaterThanOrEqual(1);
  await call('get', '/dlq/redrives', { ...admin, query: { functionName: 'boom' } });
  expect((await call('get', '/dlq/redrives', { ...admin, query: { functionName: 'nope' } })).status).toBe(404);
  expect((await call('get', '/dlq/redrives/{redriveId}', { ...admin, params: { redriveId: 'boom.0123' } })).status).toBe(404);
  expect((await call('get', '/dlq/redrives', {})).status).toBe(403);

  // Delete.
  await waitFor(
    async () => (await call('get', '/invocations/{requestId}', { params: { requestId: a } })).body.status === 'dead-lettered',
    10_000,
    'dead-lettered again',
  );
  expect((await call('delete', '/dlq/{requestId}', { params: { requestId: a } })).status).toBe(403);
  expect((await call('delete', '/dlq/{requestId}', { ...admin, params: { requestId: a } })).status).toBe(204);
  expect((await call('delete', '/dlq/{requestId}', { ...admin, params: { requestId: a } })).status).toBe(404);
}, 60_000);

test('a Lambda call invoq does not serve answers the documented 400 UnsupportedOperationException', async () => {
  const res = await fetch(`${stack.base}/2015-03-31/functions/ok/policy`, { headers: { 'x-api-key': USER_KEY } });
  expect(res.status).toBe(400);
  const answer = await checkAgainst(res, deref({ $ref: '#/components/responses/BadRequest' }), 'GET /2015-03-31/functions/ok/policy', 'unsupported');
  expect(answer.headers.get('x-amzn-errortype')).toBe('UnsupportedOperationException');
  expect(answer.body.Message).toBe('GetPolicy is not supported by invoq');
  // As the document's description says: 404s off the documented paths.
  const ownPrefix = await fetch(`${stack.base}/dlq/a/b/c`, { headers: { 'x-api-key': ADMIN_KEY } });
  expect([ownPrefix.status, ownPrefix.headers.get('x-amzn-errortype'), ((await ownPrefix.json()) as Json).Type]).toEqual([
    404,
    'ResourceNotFoundException',
    'User',
  ]);
  const elsewhere = await fetch(`${stack.base}/nowhere`);
  expect([elsewhere.status, elsewhere.headers.get('x-amzn-errortype'), await elsewhere.json()]).toEqual([
    404,
    'ResourceNotFoundException',
    { message: 'Not Found' },
  ]);
});

test('every documented operation was checked against a real success answer', () => {
  const missing: string[] = [];
  for (const [template, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) {
      if (!item[method]) continue;
      const statuses = Object.keys(item[method].responses).filter((s) => s.startsWith('2'));
      if (!statuses.some((s) => checked.has(`${method} ${template} ${s}`))) missing.push(`${method.toUpperCase()} ${template}`);
    }
  }
  expect(missing).toEqual([]);
});
