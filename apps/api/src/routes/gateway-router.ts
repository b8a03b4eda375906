import type { RequestHandler, Response } from 'express';
import {
  InvoqError,
  MalformedProxyResponse,
  buildProxyEvent,
  isReservedPath,
  parseProxyResponse,
  traceIdFromHeader,
  type GatewayRoute,
  type InvocationOutcome,
  type Invoker,
  type Logger,
  type ResolvedConfig,
  type RouteTable,
} from '@invoq/core';

export interface GatewayDeps {
  config: ResolvedConfig;
  routes: RouteTable;
  invoker: Invoker;
  /** The API-key / SigV4 check, run for routes that need it. */
  auth: RequestHandler;
  logger: Logger;
}

const NO_HEADERS: ReadonlySet<string> = new Set();

/**
 * Gateway routes (`routes` in function.json), served on the API's root as API Gateway's REST
 * proxy integration serves them. Mounted before invoq's own routers; invoq's paths never match.
 * A path no route matches is 404 here, with or without a key.
 */
export function createGatewayRouter({ config, routes, invoker, auth, logger }: GatewayDeps): RequestHandler {
  const runAuth = (req: Parameters<RequestHandler>[0], res: Response) =>
    new Promise<void>((resolve, reject) => {
      Promise.resolve(auth(req, res, (err?: unknown) => (err ? reject(err) : resolve()))).catch(reject);
    });

  async function runWithin(route: GatewayRoute, requestId: string, payload: string, traceId: string): Promise<InvocationOutcome> {
    const run = invoker.runSync(route.fn, { requestId, payload, traceId });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // As in API Gateway, the function goes on to its own timeout; only the caller stops waiting.
        run.catch(() => {});
        reject(new InvoqError('GATEWAY_TIMEOUT', 'Endpoint request timed out'));
      }, config.gatewayTimeoutMs);
    });
    try {
      return await Promise.race([run, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  function badGateway(route: GatewayRoute, requestId: string, why: string): InvoqError {
    // The caller sees API Gateway's words; the why goes to the log (API Gateway's execution log).
    logger.warn({ requestId, functionName: route.fn.name, resource: route.resource, why }, 'gateway answered 502');
    return new InvoqError('BAD_GATEWAY', 'Internal server error');
  }

  return async (req, res, next) => {
    const queryAt = req.originalUrl.indexOf('?');
    const rawPath = queryAt === -1 ? req.originalUrl : req.originalUrl.slice(0, queryAt);
    const rawQuery = queryAt === -1 ? '' : req.originalUrl.slice(queryAt + 1);
    if (isReservedPath(rawPath)) return next();
    res.locals.gatewayRoute = true;
    const match = routes.match(req.method, rawPath);
    if (!match) throw new InvoqError('NOT_FOUND', 'Not Found');
    const { route } = match;
    if (route.auth === 'key') await runAuth(req, res);
    const requestId = res.locals.requestId as string;
    const event = buildProxyEvent(
      {
        method: req.method,
        path: rawPath,
        rawQuery,
        rawHeaders: req.rawHeaders,
        // invoq's credential never reaches the function; on an open route every header is the app's.
        hiddenHeaders: route.auth === 'key' && res.locals.credentialHeader ? new Set([res.locals.credentialHeader as string]) : NO_HEADERS,
        body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        sourceIp: req.socket.remoteAddress ?? '',
        protocol: `HTTP/${req.httpVersion}`,
        requestId,
        receivedAt: new Date(),
      },
      match,
    );
    const payload = JSON.stringify(event);
    // API Gateway passes its X-Amzn-Trace-Id on to the function, which sees it as _X_AMZN_TRACE_ID.
    const traceId = traceIdFromHeader(req.header('x-amzn-trace-id'));

    if (route.invocationType === 'Event' || req.header('x-amz-invocation-type') === 'Event') {
      await invoker.enqueue(route.fn, requestId, payload, { traceId });
      res.status(202).end();
      return;
    }
    const bytes = Buffer.byteLength(payload);
    if (bytes > config.syncPayloadLimitBytes) {
      throw new InvoqError('PAYLOAD_TOO_LARGE', `The request, as a proxy event of ${bytes} bytes, is over the ${config.syncPayloadLimitBytes} byte limit`);
    }
    const outcome = await runWithin(route, requestId, payload, traceId);
    res.locals.invocationLogged = true;
    if (outcome.functionError) throw badGateway(route, requestId, `function error: ${outcome.functionError.errorType}`);
    let answer;
    try {
      answer = parseProxyResponse(outcome.body);
    } catch (e) {
      if (e instanceof MalformedProxyResponse) throw badGateway(route, requestId, `malformed Lambda proxy response: ${e.message}`);
      throw e;
    }
    res.status(answer.statusCode);
    for (const [name, values] of answer.headers) res.setHeader(name, values.length === 1 ? values[0]! : values);
    res.end(answer.body);
  };
}
