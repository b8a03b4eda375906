import type { RequestHandler } from 'express';
import { InvoqError, findLambdaOperation, isLambdaApiPath } from '@invoq/core';

/**
 * What is left under Lambda's API versions once every router invoq serves them with has had
 * its turn: an answer in Lambda's error shape that names the operation (from Lambda's model) as
 * not supported, or says the path is not one invoq serves. Mounted after auth, so a caller
 * without credentials hears that first, as on every other path; a router mounted before this
 * one (a call implemented later) simply wins.
 */
export function createUnsupportedOperationHandler(): RequestHandler {
  return (req, _res, next) => {
    const queryAt = req.originalUrl.indexOf('?');
    const rawPath = queryAt === -1 ? req.originalUrl : req.originalUrl.slice(0, queryAt);
    if (!isLambdaApiPath(rawPath)) return next();
    const operation = findLambdaOperation(req.method, rawPath, queryAt === -1 ? '' : req.originalUrl.slice(queryAt + 1));
    next(
      new InvoqError(
        'UNSUPPORTED_OPERATION',
        operation ? `${operation.name} is not supported by invoq` : `${req.method} ${rawPath.slice(0, 200)}: this Lambda API path is not supported by invoq`,
      ),
    );
  };
}
