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

/** What a handler's `context` says about its invocation and function. */
export interface ContextFields {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
  clientContext: unknown;
  identity: unknown;
  getRemainingTimeInMillis: () => number;
}

/** How one invocation stands: who answered, and whether the callback waits for the loop. */
class Completion {
  finished = false;
  waitForEmptyEventLoop = true;
  private cancelWatch: (() => void) | undefined;

  constructor(
    private readonly resolve: (result: unknown) => void,
    private readonly reject: (error: unknown) => void,
  ) {}

  /** Marks the invocation answered; false when something answered before. */
  claim(): boolean {
    if (this.finished) return false;
    this.finished = true;
    return true;
  }

  answer(error: unknown, result?: unknown): void {
    this.cancelWatch?.();
    if (error !== undefined && error !== null) this.reject(error);
    else this.resolve(result);
  }

  /** Runs `then` once the event loop is empty (replacing any watch armed before). */
  onEmptyLoop(then: () => void): void {
    this.cancelWatch?.();
    this.cancelWatch = whenEventLoopEmpty(then);
  }

  /** As `onEmptyLoop`, but starts watching only at the next slow tick (see `watchSoon`). */
  onEmptyLoopSoon(then: () => void): void {
    this.cancelWatch?.();
    this.cancelWatch = watchSoon(() => this.onEmptyLoop(then));
  }
}

/**
 * A promise-returning handler almost always settles, so the watch for "its loop emptied first"
 * (Runtime.NodeJsExit) starts only at the next tick of one slow, shared, unref'd timer: arming
 * a watch per run cost a fifth of the throughput of no-op runs (npm run bench:executor, queued
 * runs). The timer stops once no run waits for it.
 */
const SLOW_TICK_MS = 10;
const dueSoon = new Set<() => void>();
let slowTick: NodeJS.Timeout | undefined;

function watchSoon(arm: () => void): () => void {
  dueSoon.add(arm);
  slowTick ??= setInterval(() => {
    if (dueSoon.size === 0) {
      clearInterval(slowTick);
      slowTick = undefined;
      return;
    }
    const due = [...dueSoon];
    dueSoon.clear();
    for (const start of due) start();
  }, SLOW_TICK_MS).unref();
  return () => dueSoon.delete(arm);
}

/**
 * Lambda's `context`: the invocation's fields, `succeed`, `fail`, `done` and
 * `callbackWaitsForEmptyEventLoop`. A class, so that the accessor lives on the prototype: an
 * object literal with accessors cost ~1 µs per invocation to build.
 */
class LambdaContext implements ContextFields {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  readonly clientContext: unknown;
  readonly identity: unknown;
  readonly getRemainingTimeInMillis: () => number;
  readonly succeed: (result?: unknown) => void;
  readonly fail: (error?: unknown) => void;
  readonly done: (error?: unknown, result?: unknown) => void;
  readonly #completion: Completion;

  constructor(fields: ContextFields, completion: Completion) {
    this.awsRequestId = fields.awsRequestId;
    this.functionName = fields.functionName;
    this.functionVersion = fields.functionVersion;
    this.invokedFunctionArn = fields.invokedFunctionArn;
    this.memoryLimitInMB = fields.memoryLimitInMB;
    this.logGroupName = fields.logGroupName;
    this.logStreamName = fields.logStreamName;
    this.clientContext = fields.clientContext;
    this.identity = fields.identity;
    this.getRemainingTimeInMillis = fields.getRemainingTimeInMillis;
    this.#completion = completion;
    // Own functions, as in Lambda: handlers pass `context.succeed` around detached.
    this.succeed = (result) => completion.claim() && completion.answer(null, result);
    // `context.fail()` with nothing is still a failure: Lambda reports the string "handled".
    this.fail = (error) => completion.claim() && completion.answer(error ?? 'handled');
    this.done = (error, result) => completion.claim() && completion.answer(error, result);
  }

  get callbackWaitsForEmptyEventLoop(): boolean {
    return this.#completion.waitForEmptyEventLoop;
  }

  set callbackWaitsForEmptyEventLoop(value: boolean) {
    this.#completion.waitForEmptyEventLoop = value;
  }
}

/** Runs `handler` with a Lambda `context`, and resolves with its result or rejects with its error. */
export function invokeHandler(handler: Handler, event: unknown, fields: ContextFields): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const completion = new Completion(resolve, reject);
    const context = new LambdaContext(fields, completion);
    const callback: Callback = (error, result) => {
      if (!completion.claim()) return;
      if (error !== undefined && error !== null) completion.answer(error);
      else if (!completion.waitForEmptyEventLoop) completion.answer(null, result);
      else completion.onEmptyLoop(() => completion.answer(null, result));
    };
    // Nothing answered yet: answer when the loop empties, unless something else answers first.
    const answerOnEmptyLoop = () => {
      if (!completion.claim()) return;
      if (isAsyncFunction(handler)) reject(new NodeJsExit());
      else resolve(null);
    };
    try {
      const returned = handler(event, context, callback);
      if (isPromiseLike(returned)) {
        if (!completion.finished) completion.onEmptyLoopSoon(answerOnEmptyLoop);
        returned.then(context.succeed, context.fail);
      } else if (!completion.finished) {
        completion.onEmptyLoop(answerOnEmptyLoop);
      }
    } catch (e) {
      callback(e);
    }
  });
}
