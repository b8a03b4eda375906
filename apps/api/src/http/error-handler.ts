import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { InvoqError, coerceError, findLambdaOperation, type InvoqErrorCode, type Logger } from '@invoq/core';

/** The one table from invoq's error codes to HTTP statuses (the Lambda API model's). */
const STATUS_BY_CODE: Record<InvoqErrorCode, number> = {
  FUNCTION_NOT_FOUND: 404,
  NOT_FOUND: 404,
  INVALID_REQUEST_CONTENT: 400,
  INVALID_PARAMETER: 400,
  PAYLOAD_TOO_LARGE: 413,
  THROTTLED: 429,
  RESOURCE_CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  MISSING_CREDENTIALS: 401,
  UNKNOWN_CREDENTIALS: 403,
  INVALID_SIGNATURE: 403,
  FORBIDDEN: 403,
  // 400, not 501: the same call will never succeed here, so nothing should retry it. The SDKs
  // and the CLI retry only 500/502/503/504, but generic layers in front of them retry any 5xx
  // (Envoy's retry_on 5xx, Polly's HandleTransientHttpError, axios-retry); a 501 is cacheable by
  // default (RFC 9110 15.6.2), so a proxy could keep it after invoq learns the call; and a
  // 5xx would count against the service's error rate each time a client asks (AWS's own
  // blank-nodejs sample calls GetAccountSettings on every invocation). Not 404: tools read a
  // 404 as "that function or config does not exist" and act on it.
  UNSUPPORTED_OPERATION: 400,
  QUEUE_UNAVAILABLE: 503,
  SERVICE: 503,
  BAD_GATEWAY: 502,
  GATEWAY_TIMEOUT: 504,
};

/** Errors from express itself (its body parser, its path decoding), by `type` and `status`. */
function fromExpress(err: Error & { type?: string; limit?: number; status?: number }, req: Request): InvoqError | undefined {
  if (err.type === 'entity.too.large') {
    // Lambda names the operation (InvokeFunction, CreateFunction, UpdateFunctionCode); invoq's own paths have none.
    const [rawPath = '', rawQuery = ''] = req.originalUrl.split('?', 2);
    const operation = findLambdaOperation(req.method, rawPath, rawQuery);
    const name = operation?.name === 'Invoke' ? 'InvokeFunction' : operation?.name;
    return new InvoqError('PAYLOAD_TOO_LARGE', `Request must be smaller than ${err.limit} bytes${name ? ` for the ${name} operation` : ''}`);
  }
  if ((typeof err.type === 'string' && err.type.startsWith('request.')) || err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') {
    return new InvoqError('INVALID_REQUEST_CONTENT', `Could not read request body: ${err.message}`);
  }
  // E.g. a path parameter that is not valid percent-encoding.
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    return new InvoqError('INVALID_PARAMETER', `Invalid request: ${err.message}`);
  }
  return undefined;
}

/**
 * Turns any error into Lambda's error response: status, `x-amzn-ErrorType`, `{Type, Message}`;
 * on a gateway route into API Gateway's: the same status and header, `{message}`.
 */
export function createErrorHandler(logger: Logger): ErrorRequestHandler {
  return (thrown, req, res, _next) => {
    const err = coerceError(thrown);
    const invoqError = err instanceof InvoqError ? err : fromExpress(err, req);
    if (!invoqError) {
      logger.error({ err, requestId: res.locals.requestId, path: req.path }, 'unexpected error');
    }
    const error = invoqError ?? new InvoqError('SERVICE', 'An internal error occurred; retry later.');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body: Record<string, unknown> = res.locals.gatewayRoute ? { message: error.message } : { Type: error.faultType, Message: error.message };
    if (error.reason) body[res.locals.gatewayRoute ? 'reason' : 'Reason'] = error.reason;
    // Every 503 tells the client when to come back, as the contract's error table says.
    const retryAfter = error.retryAfterSeconds ?? (STATUS_BY_CODE[error.code] === 503 ? 1 : undefined);
    if (retryAfter !== undefined) res.setHeader('Retry-After', String(retryAfter));
    // Let a browser ask for the admin key on the queue dashboard.
    if (error.code === 'MISSING_CREDENTIALS' && req.path.startsWith('/admin/')) res.setHeader('WWW-Authenticate', 'Basic realm="invoq admin", charset="UTF-8"');
    res.status(STATUS_BY_CODE[error.code]).setHeader('x-amzn-ErrorType', error.exceptionName).json(body);
  };
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new InvoqError('NOT_FOUND', `No such resource: ${req.method} ${req.path.slice(0, 200)}`));
};
