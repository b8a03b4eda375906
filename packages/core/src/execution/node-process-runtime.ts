/**
 * invoq's Node.js runtime client for process environments: run as
 * `node <dist>/execution/node-process-runtime.js` with cwd = LAMBDA_TASK_ROOT, it loads the
 * handler named by `_HANDLER` (`file.export`) and runs it over Lambda's Runtime API at
 * `AWS_LAMBDA_RUNTIME_API`, as AWS's aws-lambda-ric does. It shares the thread runtime's handler
 * loading, handler contract and error shapes.
 *
 * It runs in a sandbox that has only this package's dist folder: it must import nothing but
 * Node's own modules and the modules beside it that do the same.
 */
import path from 'node:path';
import type { FunctionError } from '../errors';
import { handlerModuleNames, locateHandler } from '../functions/handler-location';
import { captureConsole } from './console-capture';
import { recordRuntimeResources } from './event-loop-watch';
import { RuntimeApiClient, type RuntimeApiResponse } from './runtime-api-client';
import { toFunctionError } from './function-error';
import { InitError, loadHandler } from './handler-module';
import { invokeHandler, type ContextFields, type Handler } from './node-handler-contract';

const API = process.env.AWS_LAMBDA_RUNTIME_API ?? '';
const PREFIX = '/2018-06-01/runtime';

// ---- Logging: console lines as the thread runtime writes them, on stdout, flushed before each answer.

const stdout = process.stdout;
const stderr = process.stderr;
// The host may close the pipes when it ends the environment: nothing to report then.
stdout.on('error', () => undefined);
stderr.on('error', () => undefined);

let currentRequestId: string | undefined;

// One record per line: the host splits the pipe on `\n`, so a message's own newlines become
// `\r`, as aws-lambda-ric writes them to stdout.
captureConsole(
  () => currentRequestId,
  (line) => stdout.write(`${line.replace(/\n/g, '\r')}\n`),
);

/** Resolves once everything written to `stream` so far (by the runtime or the function) is out. */
function flush(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.write('', () => resolve());
  });
}

const flushLogs = () => Promise.all([flush(stdout), flush(stderr)]);

// ---- The Runtime API.

/** The Runtime API cannot be reached (or refused the runtime): the host is gone or ending it. */
function unreachable(): never {
  process.exit(1);
}

function splitHostPort(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  if (colon < 0) return [address || '127.0.0.1', 80];
  return [address.slice(0, colon).replace(/^\[|\]$/g, ''), Number(address.slice(colon + 1))];
}

/** One keep-alive connection to the Runtime API (the host checks each new connection once). */
const runtimeApi = new RuntimeApiClient(...splitHostPort(API), unreachable);
const request = runtimeApi.request.bind(runtimeApi);

/** A header value Node accepts: an error type of the function's own making may hold anything. */
function errorTypeHeader(errorType: string): string {
  return /^[\x21-\x7e]{1,200}$/.test(errorType) ? errorType : 'Unhandled';
}

function postError(urlPath: string, error: FunctionError): Promise<RuntimeApiResponse> {
  const body = JSON.stringify({ errorType: error.errorType, errorMessage: error.errorMessage, trace: error.trace });
  return request('POST', urlPath, body, { 'Lambda-Runtime-Function-Error-Type': errorTypeHeader(error.errorType) });
}

// ---- Init.

const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerSetting = process.env._HANDLER ?? '';

/** Lambda's init errors for a `_HANDLER` that names no module in the task root. */
function unlocatedHandlerError(): FunctionError {
  const base = path.basename(handlerSetting);
  if (!base.includes('.')) {
    return { errorType: 'Runtime.MalformedHandlerName', errorMessage: `Bad handler ${handlerSetting}`, trace: [] };
  }
  const moduleName = handlerSetting.slice(0, handlerSetting.lastIndexOf('/') + 1 + base.indexOf('.'));
  return {
    errorType: 'Runtime.ImportModuleError',
    errorMessage: `Error: Cannot find module '${moduleName}' (no ${handlerModuleNames(handlerSetting)} in ${taskRoot})`,
    trace: [],
  };
}

async function init(): Promise<Handler> {
  try {
    const location = locateHandler(taskRoot, handlerSetting);
    if (!location) throw new InitError(unlocatedHandlerError());
    return await loadHandler(location.file, location.exportPath, handlerSetting);
  } catch (e) {
    const error = e instanceof InitError ? e.error : toFunctionError(e);
    console.error(`${error.errorType}: ${error.errorMessage}`);
    await flushLogs();
    await postError(`${PREFIX}/init/error`, error);
    process.exit(1);
  }
}

// ---- Invocations.

/** The invocation in flight, until it is answered. */
let inFlight: { requestId: string; answered: boolean } | undefined;

function parseJsonHeader(value: string | undefined): unknown {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

function contextFields(requestId: string, headers: Record<string, string>): ContextFields {
  const deadline = Number(headers['lambda-runtime-deadline-ms']);
  const env = process.env;
  return {
    awsRequestId: requestId,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME ?? '',
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST',
    invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'] ?? '',
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '',
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME ?? '',
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME ?? '',
    clientContext: parseJsonHeader(headers['lambda-runtime-client-context']),
    identity: parseJsonHeader(headers['lambda-runtime-cognito-identity']),
    getRemainingTimeInMillis: () => (Number.isFinite(deadline) ? Math.max(0, deadline - Date.now()) : 0),
  };
}

/** The Runtime API's reply to the last answer posted: awaited only before the process exits. */
let lastAnswer: Promise<unknown> = Promise.resolve();

/**
 * Answers the invocation in flight, once: the logs first, so they land in its log. Resolves once
 * the answer is written; its reply is not waited for, so the loop's next `next` is pipelined
 * right behind it.
 */
async function answer(requestId: string, outcome: { body: string } | { error: FunctionError }): Promise<void> {
  if (!inFlight || inFlight.requestId !== requestId || inFlight.answered) return;
  inFlight.answered = true;
  if ('error' in outcome) console.error(`${outcome.error.errorType}: ${outcome.error.errorMessage}`);
  await flushLogs();
  const base = `${PREFIX}/invocation/${encodeURIComponent(requestId)}`;
  lastAnswer = 'body' in outcome ? request('POST', `${base}/response`, outcome.body) : postError(`${base}/error`, outcome.error);
}

async function run(handler: Handler, requestId: string, headers: Record<string, string>, payload: string): Promise<void> {
  let event: unknown;
  try {
    event = payload.length === 0 ? {} : JSON.parse(payload);
  } catch (e) {
    return answer(requestId, { error: { errorType: 'Runtime.UnmarshalError', errorMessage: `Unable to parse event: ${(e as Error).message}`, trace: [] } });
  }
  let result: unknown;
  try {
    result = await invokeHandler(handler, event, contextFields(requestId, headers));
  } catch (e) {
    return answer(requestId, { error: toFunctionError(e) });
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(result === undefined ? null : result);
  } catch (e) {
    return answer(requestId, {
      error: { errorType: 'Runtime.MarshalError', errorMessage: `Unable to stringify response body: ${(e as Error).message}`, trace: [] },
    });
  }
  return answer(requestId, { body: body ?? 'null' }); // `?? 'null'`: a function or symbol result
}

async function loop(handler: Handler): Promise<never> {
  for (;;) {
    const next = await request('GET', `${PREFIX}/invocation/next`);
    if (next.status !== 200) unreachable();
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    if (!requestId) unreachable();
    const traceId = next.headers['lambda-runtime-trace-id'];
    if (traceId) process.env._X_AMZN_TRACE_ID = traceId;
    else delete process.env._X_AMZN_TRACE_ID;
    currentRequestId = requestId;
    inFlight = { requestId, answered: false };
    await run(handler, requestId, next.headers, next.body);
    inFlight = undefined;
  }
}

// ---- What the function leaves unhandled ends the environment (the host replaces it).

/** Lambda's name for a rejection nobody handled. */
class UnhandledPromiseRejection extends Error {}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

let ending = false;

function endWith(label: string, failure: unknown): void {
  if (ending) return;
  ending = true;
  const error = toFunctionError(failure);
  console.error(label, JSON.stringify(error));
  const pending = inFlight && !inFlight.answered ? answer(inFlight.requestId, { error }) : flushLogs();
  void pending
    .then(() => lastAnswer)
    .then(
      () => process.exit(1),
      () => process.exit(1),
    );
}

process.on('uncaughtException', (e) => endWith('Uncaught Exception', e));
process.on('unhandledRejection', (reason) => endWith('Unhandled Promise Rejection', new UnhandledPromiseRejection(String(reason))));

if (!API) unreachable();
/**
 * What keeps the process up while a handler's event loop empties (as a thread's port does):
 * without it Node would exit there, before the watch for "the loop is empty" (unref'd timers)
 * answers a callback-style handler.
 */
setInterval(() => undefined, 2 ** 30);
// Before any function code: what the runtime itself holds is what an empty event loop still has.
recordRuntimeResources();
void init().then(loop);
