/**
 * How one invocation of a Node.js handler ends, as Lambda's Node.js runtime decides it
 * (aws-lambda-nodejs-runtime-interface-client: Runtime.js, CallbackContext.js):
 *
 * - a returned promise answers when it settles (its value, or its rejection as the error);
 * - `callback(error)`, `context.fail(error)`, `context.done(error)` answer with the error at once;
 * - `context.succeed(result)` and `context.done(null, result)` answer with the result at once;
 * - `callback(null, result)` answers once the event loop is empty, or at once when the handler
 *   set `context.callbackWaitsForEmptyEventLoop = false`;
 * - a handler that does none of these is answered once the event loop is empty: `null` for a
 *   plain function, `Runtime.NodeJsExit` for an async one (its promise never settled).
 *
 * The first of these that happens wins; later calls are ignored, as in Lambda.
 */
import { whenEventLoopEmpty } from './event-loop-watch';

export type Callback = (error?: unknown, result?: unknown) => void;
export type Handler = (event: unknown, context: object, callback: Callback) => unknown;

/** What Lambda's runtime throws when an async handler's event loop empties first. */
export class NodeJsExit extends Error {
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a Promise that was never settled. For more information, see https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}
NodeJsExit.prototype.name = 'Runtime.NodeJsExit';

/** Lambda's test for an async handler: declared `async`, not merely returning a promise. */
export function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === 'function' && fn.constructor?.name === 'AsyncFunction';
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}

/**
 * Runs `handler` with `contextData` plus Lambda's `succeed`, `fail`, `done` and
 * `callbackWaitsForEmptyEventLoop`, and resolves with its result or rejects with its error.
 */
export function invokeHandler(handler: Handler, event: unknown, contextData: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let finished = false;
    let waitForEmptyEventLoop = true;
    let cancelWatch: (() => void) | undefined;
    const answer = (error: unknown, result?: unknown) => {
      cancelWatch?.();
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    const onEmptyLoop = (then: () => void) => {
      cancelWatch?.();
      cancelWatch = whenEventLoopEmpty(then);
    };
    const firstOnly = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => {
      if (finished) return;
      finished = true;
      fn(...args);
    };

    const callback = firstOnly((error?: unknown, result?: unknown) => {
      if (error !== undefined && error !== null) answer(error);
      else if (!waitForEmptyEventLoop) answer(null, result);
      else onEmptyLoop(() => answer(null, result));
    });
    const context = Object.assign(
      {
        get callbackWaitsForEmptyEventLoop() {
          return waitForEmptyEventLoop;
        },
        set callbackWaitsForEmptyEventLoop(value: boolean) {
          waitForEmptyEventLoop = value;
        },
        succeed: firstOnly((result?: unknown) => answer(null, result)),
        // `context.fail()` with nothing is still a failure: Lambda reports the string "handled".
        fail: firstOnly((error?: unknown) => answer(error ?? 'handled')),
        done: firstOnly((error?: unknown, result?: unknown) => answer(error, result)),
      },
      contextData,
    );

    // Nothing called yet: answer when the loop empties, unless something else answers first.
    onEmptyLoop(() => {
      if (finished) return;
      finished = true;
      if (isAsyncFunction(handler)) reject(new NodeJsExit());
      else resolve(null);
    });
    try {
      const returned = handler(event, context, callback);
      if (isPromiseLike(returned)) returned.then(context.succeed, context.fail);
    } catch (e) {
      callback(e);
    }
  });
}
