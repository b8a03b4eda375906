import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { invokeWithoutRouter } from './direct-invoke-route';
import { expressMessageClasses } from './express-messages';

const PATH = '/2015-03-31/functions/:functionName/invocations';
/** Requests express's router walked (a layer between the first handler and the route). */
const routed: string[] = [];
/** For each request, whether it arrived with express's prototypes already (before express ran). */
const bornExpress: boolean[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  app.set('query parser', 'simple');
  const first: RequestHandler = (_req, res, next) => {
    res.locals.started = true;
    next();
  };
  app.use(first);
  app.use((req, _res, next) => {
    routed.push(req.url);
    next();
  });
  const readBody = express.raw({ type: () => true });
  const answer: RequestHandler = (req, res) => {
    if (req.params.functionName === 'throws') throw new Error('thrown failure');
    if (req.params.functionName === 'rejects') return Promise.reject(new Error('async failure'));
    res.json({
      name: req.params.functionName,
      qualifier: req.query.Qualifier ?? null,
      body: (req.body as Buffer).toString(),
      route: (req.route as { path?: string } | undefined)?.path,
      originalUrl: req.originalUrl,
      started: res.locals.started === true,
      header: req.header('x-amz-invocation-type') ?? null,
    });
  };
  const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
    res.status(500).json({ error: err.message });
  };
  const route = app.route(PATH).post(readBody, answer);
  app.use(onError);
  invokeWithoutRouter(app, route, { first, route: [readBody, answer], onError });
  server = createServer(expressMessageClasses(app), app);
  server.prependListener('request', (req, res) => bornExpress.push(Object.getPrototypeOf(req) === app.request && Object.getPrototypeOf(res) === app.response));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const post = (path: string, body = '{"a":1}') => fetch(base + path, { method: 'POST', body, headers: { 'x-amz-invocation-type': 'Event' } });

describe('invokeWithoutRouter', () => {
  it('serves the invoke path as clients send it without the router, with what express would have set', async () => {
    routed.length = 0;
    const res = await post('/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:echo/invocations?Qualifier=live');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      name: 'arn:aws:lambda:us-east-1:000000000000:function:echo',
      qualifier: 'live',
      body: '{"a":1}',
      route: PATH,
      originalUrl: '/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:echo/invocations?Qualifier=live',
      started: true,
      header: 'Event',
    });
    expect(routed).toEqual([]);
  });

  it('answers the same through the router for the forms it leaves to express', async () => {
    routed.length = 0;
    const direct = await (await post('/2015-03-31/functions/echo/invocations')).json();
    for (const path of ['/2015-03-31/functions/%65cho/invocations', '/2015-03-31/FUNCTIONS/echo/invocations', '/2015-03-31/functions/echo/invocations/']) {
      const res = await post(path);
      expect(res.status).toBe(200);
      const viaRouter = (await res.json()) as Record<string, unknown>;
      expect({ ...viaRouter, originalUrl: undefined }).toEqual({ ...(direct as Record<string, unknown>), originalUrl: undefined });
    }
    expect(routed).toHaveLength(3);
    // Other methods and paths were never its business.
    expect((await fetch(`${base}/2015-03-31/functions/echo/invocations`)).status).toBe(404);
  });

  it("gives every request express's prototypes from the start, direct and routed alike", async () => {
    bornExpress.length = 0;
    await post('/2015-03-31/functions/echo/invocations');
    await post('/2015-03-31/functions/%65cho/invocations');
    expect(bornExpress).toEqual([true, true]);
  });

  it("hands a handler's thrown or rejected error to the error handler", async () => {
    for (const name of ['throws', 'rejects']) {
      const res = await post(`/2015-03-31/functions/${name}/invocations`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: name === 'throws' ? 'thrown failure' : 'async failure' });
    }
  });
});
