import { isUtf8 } from 'node:buffer';
import { Router, type Request, type Response } from 'express';
import {
  InvoqError,
  reservedConcurrencyExceeded,
  type CircuitBreakers,
  type ConcurrencyLeases,
  type QueuedEventsCap,
  formatLogTail,
  idempotentRequestId,
  logInvocation,
  type EventProducer,
  type Executor,
  type FunctionMeters,
  type FunctionRegistry,
  type InvocationType,
  type Logger,
  type Metrics,
  type ResolvedConfig,
  type ResolvedFunction,
} from '@invoq/core';

export interface InvokeDeps {
  config: ResolvedConfig;
  registry: FunctionRegistry;
  executor: Executor;
  breakers: CircuitBreakers;
  leases: ConcurrencyLeases;
  producer: EventProducer;
  queuedEventsCap: QueuedEventsCap;
  metrics: Metrics;
  meters: (functionName: string, type: InvocationType) => FunctionMeters;
  logger: Logger;
}

const INVOCATION_TYPES = new Set(['RequestResponse', 'Event', 'DryRun']);
/** Lambda's limit on `X-Amz-Client-Context` (base64). */
const MAX_CLIENT_CONTEXT_BYTES = 3583;

/** The body as text; Lambda refuses bytes that are not UTF-8. */
function bodyText(body: unknown): string {
  if (!Buffer.isBuffer(body)) return '';
  if (!isUtf8(body)) throw new InvoqError('INVALID_REQUEST_CONTENT', 'Could not parse request body into json: Invalid UTF-8 start byte');
  return body.toString('utf8');
}

function decodeClientContext(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length > MAX_CLIENT_CONTEXT_BYTES) {
    throw new InvoqError('INVALID_REQUEST_CONTENT', `Client context must be at most ${MAX_CLIENT_CONTEXT_BYTES} bytes`);
  }
  const text = Buffer.from(header, 'base64').toString('utf8');
  try {
    JSON.parse(text);
  } catch {
    throw new InvoqError('INVALID_REQUEST_CONTENT', 'Client context must be base64-encoded JSON');
  }
  return text;
}

/** `POST /2015-03-31/functions/{FunctionName}/invocations`: Lambda's Invoke. */
export function createInvokeRouter(deps: InvokeDeps): Router {
  const { config, registry, executor, breakers, producer, metrics, meters, logger } = deps;
  const router = Router();

  async function invokeSync(fn: ResolvedFunction, req: Request, res: Response, payload: string): Promise<void> {
    const requestId = res.locals.requestId as string;
    const clientContext = decodeClientContext(req.header('x-amz-client-context'));
    // reservedConcurrency holds across every process (Redis leases); unlimited functions skip it.
    const release = await deps.leases.tryAcquire(fn);
    if (!release) {
      metrics.throttles.inc({ function: fn.name, type: 'sync', reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
      throw reservedConcurrencyExceeded();
    }
    const m = meters(fn.name, 'sync');
    m.concurrent.inc();
    let outcome;
    try {
      // An open breaker answers 503 at once, without touching the failing dependency.
      outcome = await breakers.run(fn, () => executor.invoke(fn, { requestId, payload, clientContext }, config.syncWaitMs));
    } catch (e) {
      if (e instanceof InvoqError && e.code === 'THROTTLED') {
        metrics.throttles.inc({ function: fn.name, type: 'sync', reason: e.reason ?? 'unknown' });
      }
      throw e;
    } finally {
      m.concurrent.dec();
      await release();
    }
    m.invocations.inc();
    m.duration.observe(outcome.durationMs / 1000);
    if (outcome.functionError) {
      m.errors.inc();
      res.setHeader('X-Amz-Function-Error', 'Unhandled');
    }
    logInvocation(logger, fn, outcome, { type: 'sync' });
    res.locals.invocationLogged = true;
    if (req.header('x-amz-log-type') === 'Tail') res.setHeader('X-Amz-Log-Result', formatLogTail(outcome, fn.config.memorySize));
    res.setHeader('X-Amz-Executed-Version', '$LATEST');
    res.setHeader('Content-Type', 'application/json');
    res.status(200).end(outcome.body);
  }

  async function invokeEvent(fn: ResolvedFunction, res: Response, payload: string, idempotencyKey: string | undefined): Promise<void> {
    const bytes = Buffer.byteLength(payload);
    if (bytes > config.asyncPayloadLimitBytes) {
      throw new InvoqError('PAYLOAD_TOO_LARGE', `${bytes} byte payload is too large for the Event invocation type (limit ${config.asyncPayloadLimitBytes} bytes)`);
    }
    if (payload.length > 0) {
      try {
        JSON.parse(payload);
      } catch (e) {
        throw new InvoqError('INVALID_REQUEST_CONTENT', `Could not parse request body into json: ${(e as Error).message}`);
      }
    }
    try {
      deps.queuedEventsCap.admit();
    } catch (e) {
      metrics.throttles.inc({ function: fn.name, type: 'async', reason: (e as InvoqError).reason ?? 'unknown' });
      throw e;
    }
    let requestId = res.locals.requestId as string;
    if (idempotencyKey !== undefined) {
      if (idempotencyKey.length === 0 || idempotencyKey.length > 256) throw new InvoqError('INVALID_PARAMETER', 'Idempotency-Key must be 1 to 256 characters');
      // A repeat answers with the first event's id; BullMQ keeps that job, so nothing runs twice.
      requestId = idempotentRequestId(fn.name, idempotencyKey);
      res.locals.requestId = requestId;
      res.setHeader('x-amzn-RequestId', requestId);
    }
    await producer.enqueue(fn.name, requestId, payload, { idempotent: idempotencyKey !== undefined });
    metrics.asyncReceived.inc({ function: fn.name });
    res.status(202).end();
  }

  router.post('/2015-03-31/functions/:functionName/invocations', async (req, res) => {
    const qualifier = typeof req.query.Qualifier === 'string' ? req.query.Qualifier : undefined;
    const fn = registry.resolve(req.params.functionName as string, qualifier);
    const type = req.header('x-amz-invocation-type') ?? 'RequestResponse';
    if (!INVOCATION_TYPES.has(type)) {
      throw new InvoqError('INVALID_PARAMETER', `X-Amz-Invocation-Type must be RequestResponse, Event or DryRun (got ${type.slice(0, 40)})`);
    }
    const logType = req.header('x-amz-log-type');
    if (logType !== undefined && logType !== 'None' && logType !== 'Tail') {
      throw new InvoqError('INVALID_PARAMETER', `X-Amz-Log-Type must be None or Tail (got ${logType.slice(0, 40)})`);
    }
    const payload = bodyText(req.body);
    if (type === 'Event') return invokeEvent(fn, res, payload, req.header('idempotency-key'));
    if (Buffer.byteLength(payload) > config.syncPayloadLimitBytes) {
      throw new InvoqError('PAYLOAD_TOO_LARGE', `Request must be smaller than ${config.syncPayloadLimitBytes} bytes for the InvokeFunction operation`);
    }
    if (type === 'DryRun') {
      res.status(204).end();
      return;
    }
    return invokeSync(fn, req, res, payload);
  });
  return router;
}
