import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import type {
  DeadLetterStore,
  EventInvokeConfigStore,
  RedriveRunner,
  FunctionRegistry,
  InvocationStatusReader,
  Invoker,
  FunctionDeployments,
  FunctionStore,
  Logger,
  Metrics,
  ResolvedConfig,
  RouteTable,
} from '@invoq/core';
import { createAuth } from './http/auth';
import { invokeWithoutRouter } from './http/direct-invoke-route';
import { createErrorHandler, notFound } from './http/error-handler';
import { createCodeDownloadRouter } from './routes/code-download-router';
import { createDlqRouter } from './routes/dlq-router';
import { createEventInvokeConfigRouter } from './routes/event-invoke-config-router';
import { createFunctionsRouter } from './routes/functions-router';
import { createGatewayRouter } from './routes/gateway-router';
import { createInvocationsRouter } from './routes/invocations-router';
import { createManagementRouter } from './routes/management-router';
import { createTagsAndAccountRouter } from './routes/tags-and-account-router';
import { createHealthRouter } from './routes/health-router';
import { INVOKE_PATH, createInvokeHandler } from './routes/invoke-handler';
import { QUEUE_BOARD_PATH } from './routes/queue-board';
import { createUnsupportedOperationHandler } from './routes/unsupported-operation-router';
import { requireAdmin } from './http/auth';
import type { RequestHandler, Router } from 'express';

export interface AppDeps {
  config: ResolvedConfig;
  registry: FunctionRegistry;
  /** Gateway routes from the functions' `routes`. */
  routes: RouteTable;
  invoker: Invoker;
  deadLetters: DeadLetterStore;
  /** Bulk redrives: `POST /dlq/redrive` and their progress. */
  redrives: RedriveRunner;
  /**
   * Whether a function's queue is known: loaded here, or not loaded but holding events (the DLQ
   * lists and redrives those too). Defaults to the functions loaded here.
   */
  isKnownFunction?: (functionName: string) => boolean;
  eventInvokeConfigs: EventInvokeConfigStore;
  statusReader: InvocationStatusReader;
  metrics: Metrics;
  logger: Logger;
  pingRedis: () => Promise<void>;
  /** The queue dashboard's router (bull-board), served at /admin/queues to admin keys. */
  queueBoard?: Router;
  /** Lambda's management API (CreateFunction and the rest); without it those calls are "not supported". */
  deployments?: FunctionDeployments;
  /** Where deployed code is read from for GetFunction's `Code.Location` downloads, and the key that signs them. */
  functionStore?: FunctionStore;
}

/** JSON's overhead around a CreateFunction's base64 zip: the rest of its members (Environment alone may be 4 KB). */
const CODE_BODY_SLACK_BYTES = 1_048_576;

/** The API's HTTP surface. No I/O happens here: everything it talks to comes in `deps`. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');
  const startRequest: RequestHandler = (req, res, next) => {
    // Every answer carries a request id; for an event it is also the job id and awsRequestId.
    const requestId = randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('x-amzn-RequestId', requestId);
    // One access line per request (a sync invoke's is its invocation line), written after the
    // answer is sent. Never the body, never the query (it may carry a cursor), never headers.
    const started = performance.now();
    res.on('finish', () => {
      if (res.locals.invocationLogged) return;
      deps.logger.info(
        {
          requestId: res.locals.requestId,
          method: req.method,
          path: req.route?.path ?? req.path.slice(0, 200),
          status: res.statusCode,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
        },
        'request',
      );
    });
    next();
  };
  app.use(startRequest);
  // The body as bytes, whatever its content type (the CLI sends none, the SDK octet-stream):
  // SigV4 signs it, and Invoke passes it on unchanged. Each invocation type checks its own limit.
  const maxBodyBytes = Math.max(deps.config.syncPayloadLimitBytes, deps.config.asyncPayloadLimitBytes);
  const readBody = express.raw({ type: () => true, limit: maxBodyBytes });
  const auth = createAuth(deps.config.auth);
  // Invoke first: the hot path crosses as few of express's layers as it can (and, as clients
  // send it, none: see invokeWithoutRouter below).
  const invokeHandlers = [readBody, auth, createInvokeHandler(deps)];
  const invokeRoute = app.route(INVOKE_PATH).post(...invokeHandlers);
  app.use(createHealthRouter({ pingRedis: deps.pingRedis, registry: deps.metrics.registry }));
  // Code downloads carry their own credential (a signature), like a presigned S3 URL.
  if (deps.functionStore) app.use(createCodeDownloadRouter({ functionStore: deps.functionStore }));
  // CreateFunction and UpdateFunctionCode carry a base64 zip (4/3 of INVOQ_MAX_CODE_BYTES) in
  // JSON: their own, larger limit. The generic reader below then finds the body already read.
  const readCodeBody = express.raw({ type: () => true, limit: Math.ceil(deps.config.maxCodeBytes / 3) * 4 + CODE_BODY_SLACK_BYTES });
  if (deps.deployments) {
    app.post(['/2015-03-31/functions', '/2015-03-31/functions/'], readCodeBody);
    app.put('/2015-03-31/functions/:functionName/code', readCodeBody);
  }
  app.use(readBody);
  // Gateway routes next (each decides whether it needs a key); invoq's own paths, every Lambda
  // API version among them, pass through.
  app.use(createGatewayRouter({ config: deps.config, routes: deps.routes, invoker: deps.invoker, auth, logger: deps.logger }));
  app.use(auth);
  // Lambda's API: what invoq serves, then a "not supported" answer for the rest of it.
  app.use(createFunctionsRouter(deps));
  if (deps.deployments) app.use(createManagementRouter({ ...deps, deployments: deps.deployments }));
  app.use(createTagsAndAccountRouter(deps));
  app.use(createEventInvokeConfigRouter(deps));
  app.use(createUnsupportedOperationHandler());
  app.use(createInvocationsRouter(deps));
  app.use(createDlqRouter(deps));
  if (deps.queueBoard) app.use(QUEUE_BOARD_PATH, requireAdmin, deps.queueBoard);
  app.use(notFound);
  const onError = createErrorHandler(deps.logger);
  app.use(onError);
  invokeWithoutRouter(app, invokeRoute, { first: startRequest, route: invokeHandlers, onError });
  return app;
}
