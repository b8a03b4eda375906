/**
 * The entry of one execution environment (a worker thread). It belongs to one function, loads
 * that function's handler once, and runs one invocation at a time, as Lambda's Node.js runtime
 * does. The main thread kills it on timeout; a crash here ends only this thread.
 */
import { containSelfSignals, endEnvironment, takeRuntimeChannel } from './thread-guards';
import { captureConsole } from './console-capture';
import { recordRuntimeResources } from './event-loop-watch';
import { responseTooLargeError, toFunctionError } from './function-error';
import { InitError, loadHandler } from './handler-module';
import { LogBudget } from './log-budget';
import { MemoryWatch } from './memory-watch';
import { invokeHandler, type ContextFields, type Handler } from './node-handler-contract';
import {
  Control,
  END_OUT_OF_MEMORY,
  MAX_RESPONSE_BYTES,
  exceedsResponseLimit,
  type InitDone,
  type InvokeMessage,
  type LogLine,
  type ThreadReply,
} from './thread-protocol';

// First, before any function code: the runtime's channel out of the function's reach.
const { channel, data } = takeRuntimeChannel();
const port = channel.port;
// Bound now, so that a function replacing MessagePort.prototype.postMessage later sees nothing
// the runtime sends. (What a function that digs the channel out anyway can send is still only
// what the main thread's checks accept: see thread-message-check.)
const send = port.postMessage.bind(port) as (message: InitDone | LogLine | ThreadReply) => void;
const control = new Int32Array(channel.control);
containSelfSignals(control);

const memory = new MemoryWatch(
  data.memorySizeMb,
  () => Atomics.load(control, Control.IN_RUN) === 1,
  (usedMb) => endEnvironment(control, END_OUT_OF_MEMORY, usedMb, 1),
);

let handler: Handler | undefined;
let currentRequestId: string | undefined;
const logBudget = new LogBudget();

captureConsole(
  () => currentRequestId,
  (line) => {
    const kept = logBudget.admit(line, currentRequestId);
    if (kept !== undefined) send({ kind: 'log', line: kept });
  },
);

function contextFields(message: InvokeMessage): ContextFields {
  const deadline = Date.now() + message.timeoutMs;
  return {
    awsRequestId: message.requestId,
    functionName: data.functionName,
    functionVersion: data.functionVersion,
    invokedFunctionArn: data.functionArn,
    memoryLimitInMB: String(data.memorySizeMb),
    logGroupName: `/aws/lambda/${data.functionName}`,
    logStreamName: data.logStreamName,
    clientContext: message.clientContext === undefined ? undefined : JSON.parse(message.clientContext),
    identity: undefined,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

async function run(message: InvokeMessage): Promise<ThreadReply> {
  currentRequestId = message.requestId;
  logBudget.reset();
  const { token } = message;
  let event: unknown;
  try {
    event = message.payload.length === 0 ? {} : JSON.parse(message.payload);
  } catch (e) {
    return { kind: 'invalid-payload', token, message: (e as Error).message };
  }
  let initMs: number | undefined;
  // Lambda's Duration: from the handler's start (after init) to its answer, serialised.
  let handlerStarted: number | undefined;
  const durationMs = () => (handlerStarted === undefined ? 0 : performance.now() - handlerStarted);
  try {
    process.env._X_AMZN_TRACE_ID = message.traceId;
    if (!handler) {
      const started = performance.now();
      try {
        handler = await loadHandler(data.handlerFile, data.handlerPath, data.handlerSetting);
      } catch (e) {
        if (!(e instanceof InitError)) throw e;
        // As in Lambda, a failed init is not remembered: the next cold start imports afresh (an
        // ES module that failed stays failed in its thread, so the thread goes).
        console.error(`${e.error.errorType}: ${e.error.errorMessage}`);
        return {
          kind: 'function-error',
          token,
          error: e.error,
          initMs: performance.now() - started,
          durationMs: 0,
          memoryUsedMb: memory.usedMbAtAnswer(),
          discardEnvironment: true,
        };
      }
      initMs = performance.now() - started;
      send({ kind: 'init-done', token });
    }
    handlerStarted = performance.now();
    const result = await invokeHandler(handler, event, contextFields(message));
    let body: string | undefined;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (e) {
      return fail(
        token,
        { errorType: 'Runtime.MarshalError', errorMessage: `Unable to stringify response body: ${(e as Error).message}`, trace: [] },
        initMs,
        durationMs(),
      );
    }
    body ??= 'null'; // a function or symbol result
    if (exceedsResponseLimit(body)) {
      return fail(token, responseTooLargeError(MAX_RESPONSE_BYTES), initMs, durationMs());
    }
    return { kind: 'result', token, body, initMs, durationMs: durationMs(), memoryUsedMb: memory.usedMbAtAnswer() };
  } catch (e) {
    return fail(token, toFunctionError(e), initMs, durationMs());
  }
}

function fail(token: string, error: ReturnType<typeof toFunctionError>, initMs: number | undefined, durationMs: number): ThreadReply {
  console.error(`${error.errorType}: ${error.errorMessage}`);
  return { kind: 'function-error', token, error, initMs, durationMs, memoryUsedMb: memory.usedMbAtAnswer() };
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
    Atomics.add(control, Control.RUNS_BEGUN, 1);
    Atomics.store(control, Control.IN_RUN, 1);
    memory.runStarted();
    const reply = await run(message);
    currentRequestId = undefined;
    Atomics.store(control, Control.IN_RUN, 0);
    send(reply);
  }
  draining = false;
}

// Runs handed over in one turn of the main thread's event loop come as one array.
port.on('message', (message: InvokeMessage | InvokeMessage[]) => {
  if (Array.isArray(message)) queued.push(...message);
  else queued.push(message);
  if (!draining) void drain();
});
// After the port listens: what the runtime holds is what an empty event loop still has.
recordRuntimeResources();

/** Lambda's name for a rejection nobody handled; the environment ends with it. */
class UnhandledPromiseRejection extends Error {}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';
process.on('unhandledRejection', (reason) => {
  throw new UnhandledPromiseRejection(String(reason));
});
