/**
 * The entry of one execution environment (a worker thread). It belongs to one function, loads
 * that function's handler once, and runs one invocation at a time, as Lambda's Node.js runtime
 * does. The main thread kills it on timeout; a crash here ends only this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import v8 from 'node:v8';
import { toFunctionError } from './function-error';
import { MAX_LOG_LINES_PER_RUN, MAX_RESPONSE_BYTES, type InitDone, type InvokeMessage, type LogLine, type ThreadData, type ThreadReply } from './thread-protocol';

type Callback = (error?: unknown, result?: unknown) => void;
type Handler = (event: unknown, context: object, callback: Callback) => unknown;

const data = workerData as ThreadData;
const port = parentPort!;
const inRun = new Int32Array(data.inRunFlag);
let handler: Handler | undefined;
let currentRequestId: string | undefined;
let linesThisRun = 0;

function capture(level: string) {
  return (...args: unknown[]): void => {
    linesThisRun += 1;
    if (linesThisRun > MAX_LOG_LINES_PER_RUN) {
      if (linesThisRun === MAX_LOG_LINES_PER_RUN + 1) send(`${new Date().toISOString()}\t${currentRequestId}\tWARN\tinvoq: more than ${MAX_LOG_LINES_PER_RUN} log lines in one run; the rest are dropped`);
      return;
    }
    send(`${new Date().toISOString()}\t${currentRequestId ?? 'undefined'}\t${level}\t${format(...args)}`);
  };
}

function send(line: string): void {
  port.postMessage({ kind: 'log', line } satisfies LogLine);
}
console.log = capture('INFO');
console.info = capture('INFO');
console.warn = capture('WARN');
console.error = capture('ERROR');
console.debug = capture('DEBUG');
console.trace = capture('TRACE');

/**
 * CommonJS through `require` (the ESM loader costs ~10 ms more on a cold start), ES modules
 * (`.mjs`, or `.js` under `"type": "module"`) through `import()`.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  if (!file.endsWith('.mjs')) {
    try {
      return require(file) as Record<string, unknown>;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw e;
    }
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

async function loadHandler(): Promise<Handler> {
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(data.handlerFile);
  } catch (e) {
    throw Object.assign(toFunctionError(e), { errorType: 'Runtime.ImportModuleError' });
  }
  // A CommonJS module's exports may only be visible through `default`.
  const fn = mod[data.handlerExport] ?? (mod.default as Record<string, unknown> | undefined)?.[data.handlerExport];
  if (typeof fn !== 'function') {
    throw {
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: `${data.handlerFile.split('/').pop()}.${data.handlerExport} is undefined or not exported`,
      trace: [],
    };
  }
  return fn as Handler;
}

function createContext(message: InvokeMessage): object {
  const deadline = Date.now() + message.timeoutMs;
  return {
    awsRequestId: message.requestId,
    functionName: data.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: data.functionArn,
    memoryLimitInMB: String(data.memorySizeMb),
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]invoq`,
    callbackWaitsForEmptyEventLoop: true,
    clientContext: message.clientContext === undefined ? undefined : JSON.parse(message.clientContext),
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function callHandler(fn: Handler, event: unknown, context: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback: Callback = (error, result) => {
      if (settled) return;
      settled = true;
      if (error !== undefined && error !== null) reject(error);
      else resolve(result);
    };
    const returned = fn(event, context, callback);
    if (returned !== null && typeof returned === 'object' && typeof (returned as Promise<unknown>).then === 'function') {
      (returned as Promise<unknown>).then(
        (v) => callback(null, v),
        (e: unknown) => callback(e ?? new Error('Handler rejected with no reason')),
      );
    } else if (fn.length < 3) {
      callback(null, returned);
    }
  });
}

function heapUsedMb(): number {
  return Math.ceil(v8.getHeapStatistics().used_heap_size / 1_048_576);
}

async function run(message: InvokeMessage): Promise<ThreadReply> {
  currentRequestId = message.requestId;
  linesThisRun = 0;
  let event: unknown;
  try {
    event = message.payload.length === 0 ? {} : JSON.parse(message.payload);
  } catch (e) {
    return { kind: 'invalid-payload', message: (e as Error).message };
  }
  let initMs: number | undefined;
  // Lambda's Duration: from the handler's start (after init) to its answer, serialised.
  let handlerStarted: number | undefined;
  const durationMs = () => (handlerStarted === undefined ? 0 : performance.now() - handlerStarted);
  try {
    if (!handler) {
      const started = performance.now();
      handler = await loadHandler();
      initMs = performance.now() - started;
      port.postMessage({ kind: 'init-done' } satisfies InitDone);
    }
    handlerStarted = performance.now();
    const result = await callHandler(handler, event, createContext(message));
    let body: string | undefined;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      return fail({ errorType: 'Runtime.MarshalError', errorMessage: `Unable to stringify response body: ${(e as Error).message}`, trace: [] }, initMs, durationMs());
    }
    body ??= 'null'; // a function or symbol result
    if (Buffer.byteLength(body) > MAX_RESPONSE_BYTES) {
      return fail({
        errorType: 'Function.ResponseSizeTooLarge',
        errorMessage: `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
        trace: [],
      }, initMs, durationMs());
    }
    return { kind: 'result', body, initMs, durationMs: durationMs(), heapUsedMb: heapUsedMb() };
  } catch (e) {
    const error = typeof e === 'object' && e !== null && 'errorType' in e ? (e as ReturnType<typeof toFunctionError>) : toFunctionError(e);
    return fail(error, initMs, durationMs());
  }
}

function fail(error: ReturnType<typeof toFunctionError>, initMs: number | undefined, durationMs: number): ThreadReply {
  console.error(`${error.errorType}: ${error.errorMessage}`);
  return { kind: 'function-error', error, initMs, durationMs, heapUsedMb: heapUsedMb() };
}

/**
 * Invocations posted while one runs wait here and run one after another, never two at once:
 * the main thread may queue a few behind a short run so that this thread takes them without
 * going to sleep between them.
 */
const queued: InvokeMessage[] = [];
let draining = false;

async function drain(): Promise<void> {
  draining = true;
  for (let message = queued.shift(); message; message = queued.shift()) {
    Atomics.store(inRun, 0, 1);
    const reply = await run(message);
    currentRequestId = undefined;
    Atomics.store(inRun, 0, 0);
    port.postMessage(reply);
  }
  draining = false;
}

port.on('message', (message: InvokeMessage) => {
  queued.push(message);
  if (!draining) void drain();
});
