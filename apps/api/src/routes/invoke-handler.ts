import { isUtf8 } from 'node:buffer';
import type { Request, RequestHandler, Response } from 'express';
import { InvoqError, formatLogTail, traceIdFromHeader, type FunctionRegistry, type Invoker, type ResolvedConfig, type ResolvedFunction } from '@invoq/core';

export interface InvokeDeps {
  config: ResolvedConfig;
  registry: FunctionRegistry;
  invoker: Invoker;
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

/** Lambda's Invoke: `POST /2015-03-31/functions/{FunctionName}/invocations`. */
export const INVOKE_PATH = '/2015-03-31/functions/:functionName/invocations';

/** The handler for INVOKE_PATH; the body arrives read as bytes. */
export function createInvokeHandler({ config, registry, invoker }: InvokeDeps): RequestHandler {
  async function invokeSync(fn: ResolvedFunction, req: Request, res: Response, payload: string): Promise<void> {
    const clientContext = decodeClientContext(req.header('x-amz-client-context'));
    const traceId = traceIdFromHeader(req.header('x-amzn-trace-id'));
    const outcome = await invoker.runSync(fn, { requestId: res.locals.requestId as string, payload, clientContext, traceId });
    res.locals.invocationLogged = true;
    if (outcome.functionError) res.setHeader('X-Amz-Function-Error', 'Unhandled');
    if (req.header('x-amz-log-type') === 'Tail') res.setHeader('X-Amz-Log-Result', formatLogTail(outcome, fn.config.memorySize));
    res.setHeader('X-Amz-Executed-Version', fn.version);
    res.setHeader('X-Amzn-Trace-Id', traceId);
    res.setHeader('Content-Type', 'application/json');
    res.status(200).end(outcome.body);
  }

  async function invokeEvent(fn: ResolvedFunction, req: Request, res: Response, payload: string): Promise<void> {
    const traceId = traceIdFromHeader(req.header('x-amzn-trace-id'));
    const requestId = await invoker.enqueue(fn, res.locals.requestId as string, payload, { idempotencyKey: req.header('idempotency-key'), traceId });
    if (requestId !== res.locals.requestId) {
      res.locals.requestId = requestId;
      res.setHeader('x-amzn-RequestId', requestId);
    }
    res.status(202).end();
  }

  return async (req, res) => {
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
    if (type === 'Event') return invokeEvent(fn, req, res, payload);
    if (Buffer.byteLength(payload) > config.syncPayloadLimitBytes) {
      throw new InvoqError('PAYLOAD_TOO_LARGE', `Request must be smaller than ${config.syncPayloadLimitBytes} bytes for the InvokeFunction operation`);
    }
    if (type === 'DryRun') {
      res.status(204).end();
      return;
    }
    return invokeSync(fn, req, res, payload);
  };
}
