/**
 * Gateway routes behave as API Gateway's REST proxy integration: the v1 proxy event in, the
 * proxy response out (headers, multi-value headers, binary bodies), 502 for a function error or
 * a malformed response, 504 after INVOQ_GATEWAY_TIMEOUT_MS, 202 for Event routes, 404 for no
 * route, and the API key unless a route says "auth": "none".
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { EventQueues, closeRedis, createRedisConnection, isEventJobData, type ApiGatewayProxyEvent } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const sleepyFinished = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-gateway-')), 'finished');
// Answers with the event it got, so the test can read it.
const mirror = `exports.handler = async (event) => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) });`;
const functionsDir = makeFunctionsDir({
  mirror: {
    config: {
      handler: 'index.handler',
      routes: [
        { method: 'GET', path: '/items/{id}' },
        { method: 'ANY', path: '/files/{proxy+}' },
        { method: 'POST', path: '/open', auth: 'none' },
      ],
    },
    files: { 'index.js': mirror },
  },
  special: {
    config: { handler: 'index.handler', routes: [{ method: 'GET', path: '/items/special' }] },
    files: { 'index.js': `exports.handler = async () => ({ statusCode: 201, body: 'special' });` },
  },
  shapes: {
    config: { handler: 'index.handler', routes: [{ method: 'GET', path: '/shapes/{shape}' }] },
    files: {
      'index.js': `exports.handler = async (event) => ({
        cookies: { statusCode: 200, headers: { 'x-one': 'header', 'x-both': 'from headers' }, multiValueHeaders: { 'set-cookie': ['a=1', 'b=2'], 'x-both': ['m1', 'm2'] }, body: 'ok' },
        teapot: { statusCode: 418, headers: { 'content-type': 'text/plain', 'x-count': 3, 'x-flag': true }, body: 'short and stout' },
        'no-body': { statusCode: 204 },
        'object-body': { statusCode: 200, body: { not: 'a string' } },
        'extra-key': { statusCode: 200, body: '', extra: 1 },
        'no-status': { body: 'where is my status' },
        'string-status': { statusCode: '201', body: 'status as a string' },
        'word-status': { statusCode: 'OK', body: '' },
        'bad-header': { statusCode: 200, headers: { 'x-bad': 'line\\nbreak' }, body: '' },
        'not-json': 'just a string',
      })[event.pathParameters.shape] ?? (() => { throw new Error('no such shape'); })()`,
    },
  },
  binary: {
    config: { handler: 'index.handler', routes: [{ method: 'POST', path: '/binary' }] },
    files: {
      'index.js': `exports.handler = async (event) => ({ statusCode: 200, headers: { 'content-type': event.headers['content-type'] }, body: event.body, isBase64Encoded: event.isBase64Encoded });`,
    },
  },
  sleepy: {
    config: { handler: 'index.handler', timeout: 5, routes: [{ method: 'GET', path: '/sleepy' }], environment: { FINISHED: sleepyFinished } },
    files: {
      'index.js': `exports.handler = async () => { await new Promise(r => setTimeout(r, 2000)); require('node:fs').writeFileSync(process.env.FINISHED, 'late'); return { statusCode: 200, body: 'late' }; };`,
    },
  },

  queued: {
    config: {
      handler: 'index.handler',
      routes: [
        { method: 'PUT', path: '/queued', invocationType: 'Event' },
        { method: 'POST', path: '/either' },
      ],
    },
    files: { 'index.js': `exports.handler = async () => ({ statusCode: 200, body: 'ran inline' });` },
  },
});

const GATEWAY_TIMEOUT_MS = 400;
const KEY = 'route-key';
const prefix = uniquePrefix('gateway');
const connection = createRedisConnection(testRedisUrl());
const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 60, dlqRetentionSeconds: 60 });
let api: ApiService;
let base: string;
beforeAll(async () => {
  api = await startApi(
    testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: prefix, INVOQ_API_KEYS: KEY, INVOQ_GATEWAY_TIMEOUT_MS: String(GATEWAY_TIMEOUT_MS) }),
    silentLogger(),
  );
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await api?.close();
  await queues.close();
  await closeRedis(connection);
});

const withKey = { authorization: `Bearer ${KEY}` };
const get = (path: string, headers: Record<string, string> = withKey) => fetch(`${base}${path}`, { headers });
const eventOf = async (res: Response) => (await res.json()) as ApiGatewayProxyEvent;

it('passes path and query parameters in the proxy event', async () => {
  const res = await get('/items/a%20b?tag=x&tag=y&one=1');
  expect(res.status).toBe(200);
  const event = await eventOf(res);
  expect(event).toMatchObject({
    resource: '/items/{id}',
    path: '/items/a b',
    httpMethod: 'GET',
    pathParameters: { id: 'a b' },
    queryStringParameters: { tag: 'y', one: '1' },
    multiValueQueryStringParameters: { tag: ['x', 'y'], one: ['1'] },
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      resourcePath: '/items/{id}',
      httpMethod: 'GET',
      stage: '$default',
      requestId: res.headers.get('x-amzn-requestid'),
      identity: { sourceIp: expect.stringMatching(/127\.0\.0\.1/) },
    },
  });
  expect((event.requestContext as { requestTime: string }).requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);

  // Names that are special to JavaScript objects are plain parameters and headers here.
  const tricky = await get('/items/7?__proto__=p&constructor=c&__proto__=q');
  expect(tricky.status).toBe(200);
  const trickyEvent = await eventOf(tricky);
  expect(Object.getOwnPropertyDescriptor(trickyEvent.queryStringParameters, '__proto__')?.value).toBe('q');
  expect(Object.getOwnPropertyDescriptor(trickyEvent.multiValueQueryStringParameters, '__proto__')?.value).toEqual(['p', 'q']);
  expect(trickyEvent.queryStringParameters!.constructor).toBe('c');

  const bare = await eventOf(await get('/items/7'));
  expect(bare.queryStringParameters).toBeNull();
  expect(bare.multiValueQueryStringParameters).toBeNull();
  // A literal segment beats a parameter; a greedy {proxy+} takes the rest.
  const special = await get('/items/special');
  expect([special.status, await special.text()]).toEqual([201, 'special']);
  const files = await fetch(`${base}/files/a/b/c.txt`, { method: 'DELETE', headers: withKey });
  expect((await eventOf(files)).pathParameters).toEqual({ proxy: 'a/b/c.txt' });
});

it("passes multi-value request headers, and keeps invoq's key from the function", async () => {
  const event = await new Promise<ApiGatewayProxyEvent>((resolve, reject) => {
    const req = http.request(`${base}/items/1`, { headers: { 'x-api-key': KEY } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve(JSON.parse(text) as ApiGatewayProxyEvent));
    });
    req.setHeader('X-Multi', ['first', 'second']);
    req.setHeader('__proto__', 'a header like any other');
    req.on('error', reject);
    req.end();
  });
  expect(event.multiValueHeaders['X-Multi']).toEqual(['first', 'second']);
  expect(event.headers['X-Multi']).toBe('second');
  expect(Object.getOwnPropertyDescriptor(event.headers, '__proto__')?.value).toBe('a header like any other');
  expect(Object.keys(event.headers).map((h) => h.toLowerCase())).not.toContain('x-api-key');
  expect((event.requestContext as { identity: { sourceIp: string } }).identity.sourceIp).toBe('127.0.0.1'); // not ::ffff:127.0.0.1

  // One header sent in two spellings is one header, under its first spelling.
  const spelled = await new Promise<ApiGatewayProxyEvent>((resolve, reject) => {
    const socket = net.connect(api.port, '127.0.0.1', () => {
      socket.write(`GET /items/1 HTTP/1.1\r\nHost: x\r\nx-api-key: ${KEY}\r\nX-Twice: first\r\nx-twice: second\r\nConnection: close\r\n\r\n`);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    socket.on('end', () => resolve(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as ApiGatewayProxyEvent));
    socket.on('error', reject);
  });
  expect(spelled.headers['X-Twice']).toBe('second');
  expect(spelled.multiValueHeaders['X-Twice']).toEqual(['first', 'second']);
  expect(spelled.headers['x-twice']).toBeUndefined();
  // With the key in Authorization, that header is the one withheld; the app's others pass.
  const bearer = await eventOf(await get('/items/1', { ...withKey, 'x-app': 'mine' }));
  expect(Object.keys(bearer.headers).map((h) => h.toLowerCase())).not.toContain('authorization');
  expect(bearer.headers['x-app']).toBe('mine');
});

it('maps the proxy response: status, headers, multi-value headers, no body', async () => {
  const cookies = await get('/shapes/cookies');
  expect(cookies.status).toBe(200);
  expect(cookies.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  expect(cookies.headers.get('x-one')).toBe('header');
  expect(cookies.headers.get('x-both')).toBe('m1, m2'); // multiValueHeaders wins, as in API Gateway
  expect(cookies.headers.get('content-type')).toBe('application/json'); // API Gateway's default
  const teapot = await get('/shapes/teapot');
  expect([teapot.status, teapot.headers.get('x-count'), teapot.headers.get('x-flag'), await teapot.text()]).toEqual([418, '3', 'true', 'short and stout']);
  const empty = await get('/shapes/no-body');
  expect([empty.status, await empty.text()]).toEqual([204, '']);
  // A status of 3 digits as a string is taken, as API Gateway does (AWS's blueprints answer '200').
  const stringStatus = await get('/shapes/string-status');
  expect([stringStatus.status, await stringStatus.text()]).toEqual([201, 'status as a string']);
});

it('round-trips a binary body byte for byte', async () => {
  const bytes = randomBytes(64 * 1024);
  bytes[0] = 0xff; // never valid UTF-8
  const res = await fetch(`${base}/binary`, { method: 'POST', headers: { ...withKey, 'content-type': 'image/png' }, body: bytes });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('image/png');
  expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  // Text stays text in the event.
  const text = await fetch(`${base}/files/x`, { method: 'POST', headers: { ...withKey, 'content-type': 'application/json' }, body: '{"a":"ä"}' });
  expect(await eventOf(text)).toMatchObject({ body: '{"a":"ä"}', isBase64Encoded: false });
});

it.each(['object-body', 'extra-key', 'no-status', 'word-status', 'bad-header', 'not-json', 'throws'])(
  'answers 502 for a malformed response or a function error (%s)',
  async (shape) => {
    const res = await get(`/shapes/${shape}`);
    expect(res.status).toBe(502);
    expect(await res.json()).toEqual({ message: 'Internal server error' });
  },
);

it(`answers 504 after INVOQ_GATEWAY_TIMEOUT_MS (${GATEWAY_TIMEOUT_MS} ms here)`, async () => {
  const started = performance.now();
  const res = await get('/sleepy');
  const elapsed = performance.now() - started;
  expect(res.status).toBe(504);
  expect(await res.json()).toEqual({ message: 'Endpoint request timed out' });
  expect(elapsed).toBeGreaterThanOrEqual(GATEWAY_TIMEOUT_MS - 5);
  // Loose: the 2 s function must not be waited for.
  expect(elapsed).toBeLessThan(1900);
  // As behind API Gateway, the function runs on to its end (its own timeout is 5 s).
  expect(fs.existsSync(sleepyFinished)).toBe(false);
  await waitFor(() => fs.existsSync(sleepyFinished), 10_000, 'the function to finish after the 504');
});

it('queues Event routes and X-Amz-Invocation-Type: Event with 202, the proxy event as payload', async () => {
  for (const [method, path, headers] of [
    ['PUT', '/queued', {}],
    ['POST', '/either', { 'x-amz-invocation-type': 'Event' }],
  ] as const) {
    const res = await fetch(`${base}${path}?n=1`, { method, headers: { ...withKey, ...headers, 'content-type': 'application/json' }, body: '{"order":1}' });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    const requestId = res.headers.get('x-amzn-requestid')!;
    const job = await queues.get('queued').getJob(requestId);
    expect(isEventJobData(job?.data)).toBe(true);
    expect(JSON.parse(job!.data.payload as string)).toMatchObject({
      httpMethod: method,
      path,
      resource: path,
      body: '{"order":1}',
      queryStringParameters: { n: '1' },
    });
  }
  const inline = await fetch(`${base}/either`, { method: 'POST', headers: withKey });
  expect([inline.status, await inline.text()]).toEqual([200, 'ran inline']);
});

it('answers 404 for a path or method no route serves, with or without a key', async () => {
  for (const [method, path, headers] of [
    ['GET', '/nowhere', withKey],
    ['GET', '/nowhere', {}],
    ['POST', '/items/1', withKey],
    ['GET', '/files', withKey],
  ] as const) {
    const res = await fetch(`${base}${path}`, { method, headers });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ message: 'Not Found' });
  }
});

it('needs the API key unless the route says "auth": "none"', async () => {
  const none = await get('/items/1', {});
  expect(none.status).toBe(401);
  expect((await none.json()) as { message: string }).toEqual({ message: expect.stringMatching(/Missing credentials/) });
  expect((await get('/items/1', { authorization: 'Bearer wrong' })).status).toBe(403);
  // An open route needs no key, and its Authorization header is the app's own, passed through.
  const open = await fetch(`${base}/open`, { method: 'POST', headers: { authorization: 'Bearer app-token' }, body: 'hi' });
  expect(open.status).toBe(200);
  expect((await eventOf(open)).headers).toMatchObject({ authorization: 'Bearer app-token' });
  // invoq's own paths keep their own auth.
  expect((await fetch(`${base}/2015-03-31/functions/mirror/invocations`, { method: 'POST', body: '{}' })).status).toBe(401);
});

it('refuses to start with colliding routes, naming both', async () => {
  const clashing = makeFunctionsDir({
    a: { config: { handler: 'index.handler', routes: [{ method: 'GET', path: '/orders/{id}' }] }, files: { 'index.js': 'exports.handler = async () => {};' } },
    b: {
      config: { handler: 'index.handler', routes: [{ method: 'GET', path: '/orders/{orderId}' }] },
      files: { 'index.js': 'exports.handler = async () => {};' },
    },
  });
  await expect(startApi(testConfig({ INVOQ_FUNCTIONS_DIR: clashing, INVOQ_QUEUE_PREFIX: prefix }), silentLogger())).rejects.toThrow(
    /routes collide: GET \/orders\/\{orderId\} \(function b\) and GET \/orders\/\{id\} \(function a\)/,
  );
});
