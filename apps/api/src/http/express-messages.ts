import { IncomingMessage, ServerResponse, type ServerOptions } from 'node:http';
import type { Express } from 'express';

/**
 * Request and response constructors for `http.createServer` whose prototypes are express's own
 * (`app.request`, `app.response`): every request is born an express request. Express sets those
 * prototypes on each request as it arrives; V8 makes a changed prototype costly, for the object
 * and for every property access on it after (the API spent half its CPU per `Event` request on
 * it, measured with `npm run bench:api`). Setting the prototype an object already has costs
 * nothing, so express's own routes gain too. Node's `IncomingMessage` and `ServerResponse` are
 * plain constructor functions, called here on the new object as a subclass would.
 */
export function expressMessageClasses(app: Express): Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  const ExpressRequest = function (this: IncomingMessage, ...args: ConstructorParameters<typeof IncomingMessage>) {
    Reflect.apply(IncomingMessage, this, args);
  };
  ExpressRequest.prototype = app.request;
  const ExpressResponse = function (this: ServerResponse, ...args: ConstructorParameters<typeof ServerResponse>) {
    Reflect.apply(ServerResponse, this, args);
  };
  ExpressResponse.prototype = app.response;
  return { IncomingMessage: ExpressRequest as unknown as typeof IncomingMessage, ServerResponse: ExpressResponse as unknown as typeof ServerResponse };
}
