import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  normaliseErrorType,
  oversizedResponseError,
  readBodyWithin,
  sendAccepted,
  sendApiNotSupported,
  sendBareNotFound,
  sendInvalidRequestId,
  sendInvalidStateTransition,
  sendMethodNotAllowed,
  sendNotFound,
  sendJson,
  sendRequestEntityTooLarge,
  type RuntimeStateName,
} from './runtime-api-protocol';

export interface RuntimeInvocation {
  requestId: string;
  payload: string;
  /** Epoch ms, sent as `Lambda-Runtime-Deadline-Ms`; or `timeoutMs` from when the runtime takes it. */
  deadlineMs?: number;
  timeoutMs?: number;
  invokedFunctionArn: string;
  traceId?: string;
  clientContext?: string;
  cognitoIdentity?: string;
}

export type RuntimeOutcome =
  | { kind: 'response'; body: Buffer }
  /** `body` is the runtime's error document exactly as it posted it. */
  | { kind: 'error'; errorType: string; body: Buffer };

export interface RuntimeInitError {
  errorType: string;
  body: Buffer;
}

export interface RuntimeApiServerOptions {
  host?: '127.0.0.1';
  maxResponseBytes?: number;
  /** Told when an invocation is handed to the runtime's `next` (its deadline runs from then). */
  onDelivered?: (invocation: RuntimeInvocation) => void;
  /**
   * Decides, once per connection and before any of its requests is routed, whether the connecting
   * process belongs to this environment (runtime-api-peer.ts's `sessionAuthorizer`). A refusal (or
   * a rejection) gets a 403 `Runtime.AccessDenied` and the connection is closed; nothing is taken
   * or answered on it. Unset: every connection is served.
   */
  authorize?: (socket: Socket) => Promise<boolean>;
}

interface OutstandingInvocation {
  invocation: RuntimeInvocation;
  resolve: (outcome: RuntimeOutcome) => void;
  reject: (error: Error) => void;
}

const INVOCATION_ANSWER = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/;

/**
 * Lambda's Runtime API (`AWS_LAMBDA_RUNTIME_API`) for one execution environment, i.e. one
 * runtime process. Statuses, bodies and state transitions follow AWS's Runtime Interface
 * Emulator (`internal/lambda/rapi/router.go`, `rapi/handler/*.go`, `rapi/middleware/middleware.go`,
 * `core/states.go`, `rapidcore/server.go`); see runtime-api-protocol.ts for the bodies.
 *
 * What keeps environments apart: each has its own server on its own ephemeral port, bound to
 * loopback only, and an event is only ever handed to the `next` call made on that server. Any
 * local process that learns the port can connect, and the protocol has no per-environment secret
 * (real runtimes send none), so with `authorize` set each connection is first checked for who holds
 * its other end: a process outside the environment can neither take its events nor answer them.
 *
 * `initError` resolves when the runtime posts `/runtime/init/error`; it never settles otherwise.
 */
export class RuntimeApiServer {
  readonly address: string;
  readonly initError: Promise<RuntimeInitError>;

  private state: RuntimeStateName = 'Started';
  private readonly waitingNexts: ServerResponse[] = [];
  private outstanding: OutstandingInvocation | undefined;
  private delivered = false;
  // The emulator keeps the invocation current until the runtime asks for the next one, so a second
  // answer in between is a 403 state error and only after `next` a 400 unknown id.
  private currentRequestId: string | undefined;
  private closed = false;
  private resolveInitError!: (initError: RuntimeInitError) => void;
  // One check per connection: keep-alive requests after the first wait on the same answer.
  private readonly admissions = new WeakMap<Socket, Promise<boolean>>();

  private constructor(
    private readonly server: Server,
    private readonly maxResponseBytes: number,
    private readonly onDelivered: ((invocation: RuntimeInvocation) => void) | undefined,
    private readonly authorize: ((socket: Socket) => Promise<boolean>) | undefined,
  ) {
    const { port } = server.address() as AddressInfo;
    this.address = `127.0.0.1:${port}`;
    this.initError = new Promise((resolve) => (this.resolveInitError = resolve));
  }

  static async start(options: RuntimeApiServerOptions = {}): Promise<RuntimeApiServer> {
    const server = createServer();
    // A runtime keeps one connection for its life, idle between invocations for as long as its
    // environment is: closing it after Node's 5 s would cost a reconnect, and an owner check.
    server.keepAliveTimeout = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, options.host ?? '127.0.0.1', () => resolve());
    });
    const runtimeApi = new RuntimeApiServer(server, options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, options.onDelivered, options.authorize);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => runtimeApi.admit(req, res));
    return runtimeApi;
  }

  /** Hands one event to the runtime and resolves with its answer. One at a time, as Lambda runs them. */
  invoke(invocation: RuntimeInvocation): Promise<RuntimeOutcome> {
    if (this.outstanding) throw new Error(`RuntimeApiServer: invocation ${this.outstanding.invocation.requestId} is still outstanding`);
    if (this.closed) return Promise.reject(new Error('RuntimeApiServer is closed'));
    return new Promise<RuntimeOutcome>((resolve, reject) => {
      this.outstanding = { invocation, resolve, reject };
      this.delivered = false;
      const waiting = this.waitingNexts.shift();
      if (waiting) this.deliver(waiting);
    });
  }

  /** Stops listening, drops waiting `next` calls and rejects the invocation in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waitingNexts.length = 0;
    this.outstanding?.reject(new Error('RuntimeApiServer closed before the runtime answered'));
    this.outstanding = undefined;
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // A parked `next` is a connection that never ends on its own.
    this.server.closeAllConnections();
    await done;
  }

  private admit(req: IncomingMessage, res: ServerResponse): void {
    const authorize = this.authorize;
    if (!authorize) return this.route(req, res);
    const socket = req.socket;
    let admitted = this.admissions.get(socket);
    if (!admitted) {
      admitted = authorize(socket).catch(() => false);
      this.admissions.set(socket, admitted);
    }
    void admitted.then((allowed) => {
      // A connection that went away during the check must not park a `next` nobody will read.
      if (this.closed || socket.destroyed) return;
      if (allowed) return this.route(req, res);
      sendAccessDenied(res);
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const answer = INVOCATION_ANSWER.exec(path);
    if (answer) {
      if (method !== 'POST') return sendMethodNotAllowed(res, 'POST');
      const requestId = answer[1] ?? '';
      return void (answer[2] === 'response' ? this.onResponse(req, res, decodeURIComponent(requestId)) : this.onError(req, res, decodeURIComponent(requestId)));
    }
    switch (path) {
      case '/2018-06-01/runtime/invocation/next':
        return method === 'GET' ? this.onNext(res) : sendMethodNotAllowed(res, 'GET');
      case '/2018-06-01/runtime/init/error':
        return method === 'POST' ? void this.onInitError(req, res) : sendMethodNotAllowed(res, 'POST');
      case '/2018-06-01/ping':
        if (method !== 'GET') return sendMethodNotAllowed(res, 'GET');
        return void res.end('pong');
      case '/2020-08-15/logs':
        return method === 'PUT' ? sendApiNotSupported(res, 'Logs') : sendMethodNotAllowed(res, 'PUT');
      case '/2022-07-01/telemetry':
        return method === 'PUT' ? sendApiNotSupported(res, 'Telemetry') : sendMethodNotAllowed(res, 'PUT');
    }
    if (path.startsWith('/2020-01-01/')) return sendBareNotFound(res);
    return sendNotFound(res);
  }

  private onNext(res: ServerResponse): void {
    // `RuntimeInitErrorState` allows no transition to Ready; every other state does (`core/states.go`).
    if (this.state === 'InitError') return sendInvalidStateTransition(res, this.state, 'Ready');
    if (this.state === 'RuntimeResponseSentState') {
      this.currentRequestId = undefined;
      this.state = 'Ready';
    }
    if (this.state === 'Started') this.state = 'Ready';
    if (this.outstanding && !this.delivered) return this.deliver(res);
    this.waitingNexts.push(res);
    res.on('close', () => {
      const index = this.waitingNexts.indexOf(res);
      if (index >= 0) this.waitingNexts.splice(index, 1);
    });
  }

  private deliver(res: ServerResponse): void {
    const outstanding = this.outstanding;
    if (!outstanding) return;
    const { invocation } = outstanding;
    this.delivered = true;
    this.currentRequestId = invocation.requestId;
    this.state = 'Running';
    // `rendering.renderInvokeHeaders`: every header only when non-empty, Content-Type defaulting to JSON.
    const headers: Record<string, string> = {};
    const setIfNotEmpty = (name: string, value: string | undefined) => {
      if (value) headers[name] = value;
    };
    setIfNotEmpty('Lambda-Runtime-Aws-Request-Id', invocation.requestId);
    setIfNotEmpty('Lambda-Runtime-Trace-Id', invocation.traceId);
    setIfNotEmpty('Lambda-Runtime-Client-Context', invocation.clientContext);
    setIfNotEmpty('Lambda-Runtime-Cognito-Identity', invocation.cognitoIdentity);
    setIfNotEmpty('Lambda-Runtime-Invoked-Function-Arn', invocation.invokedFunctionArn);
    setIfNotEmpty('Lambda-Runtime-Deadline-Ms', String(invocation.deadlineMs ?? Date.now() + (invocation.timeoutMs ?? 0)));
    headers['Content-Type'] = 'application/json';
    // Content-Length, as Lambda sends it: a minimal runtime (a C one reading by length) needs no chunked decoding.
    headers['Content-Length'] = String(Buffer.byteLength(invocation.payload));
    res.writeHead(200, headers);
    res.end(invocation.payload);
    this.onDelivered?.(invocation);
  }

  /** `handler/invocationresponse.go` behind `middleware.AwsRequestIDValidator`. */
  private async onResponse(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    if (!requestId || requestId !== this.currentRequestId) return sendInvalidRequestId(res);
    // Validation first, then an irreversible transition, so a racing second answer is refused.
    if (this.state !== 'Running') return sendInvalidStateTransition(res, this.state, 'InvocationResponse');
    this.state = 'InvocationResponse';
    const read = await readBodyWithin(req, this.maxResponseBytes);
    if (read.kind === 'aborted') return this.abandonAnswer();
    if (read.kind === 'tooLarge') {
      // The caller gets Function.ResponseSizeTooLarge, the invocation is over, and the runtime a 413:
      // a later /error for this id is a 403 state error, as in the emulator.
      this.settle({ kind: 'error', ...oversizedResponseError(read.size, this.maxResponseBytes) });
      return sendRequestEntityTooLarge(res, this.maxResponseBytes);
    }
    this.settle({ kind: 'response', body: read.body });
    sendAccepted(res);
  }

  /** `handler/invocationerror.go` behind `middleware.AwsRequestIDValidator`. */
  private async onError(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    if (!requestId || requestId !== this.currentRequestId) return sendInvalidRequestId(res);
    if (this.state !== 'Running') return sendInvalidStateTransition(res, this.state, 'InvocationErrorResponse');
    this.state = 'InvocationErrorResponse';
    const errorType = normaliseErrorType(req.headers['lambda-runtime-function-error-type'] as string | undefined);
    const read = await readBodyWithin(req, this.maxResponseBytes);
    if (read.kind === 'aborted') return this.abandonAnswer();
    // The emulator panics on an oversized error body; answering as for an oversized response is the sane reading.
    if (read.kind === 'tooLarge') {
      this.settle({ kind: 'error', ...oversizedResponseError(read.size, this.maxResponseBytes) });
      return sendRequestEntityTooLarge(res, this.maxResponseBytes);
    }
    this.settle({ kind: 'error', errorType, body: read.body });
    sendAccepted(res);
  }

  /** `handler/initerror.go`: allowed only before the first `next`. */
  private async onInitError(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.state !== 'Started') return sendInvalidStateTransition(res, this.state, 'InitError');
    this.state = 'InitError';
    const errorType = normaliseErrorType(req.headers['lambda-runtime-function-error-type'] as string | undefined);
    const read = await readBodyWithin(req, this.maxResponseBytes);
    if (read.kind === 'aborted') return;
    if (read.kind === 'tooLarge') {
      this.resolveInitError({ errorType, body: Buffer.alloc(0) });
      return sendRequestEntityTooLarge(res, this.maxResponseBytes);
    }
    this.resolveInitError({ errorType, body: read.body });
    sendAccepted(res);
  }

  // A runtime that hung up mid-body has given no answer; let it try again (or the deadline end it).
  private abandonAnswer(): void {
    if (this.state === 'InvocationResponse' || this.state === 'InvocationErrorResponse') this.state = 'Running';
  }

  private settle(outcome: RuntimeOutcome): void {
    this.state = 'RuntimeResponseSentState';
    const outstanding = this.outstanding;
    this.outstanding = undefined;
    outstanding?.resolve(outcome);
  }
}

/**
 * The answer to a connection from outside the environment. The emulator has none (it runs one
 * environment per container, so whoever reaches its Runtime API is the runtime); the shape is its
 * usual `{errorMessage, errorType}` with a 403, and the connection is closed after it.
 */
function sendAccessDenied(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  res.setHeader('Connection', 'close');
  res.once('finish', () => res.socket?.destroy());
  sendJson(res, 403, {
    errorMessage: 'This Runtime API belongs to another execution environment; the connecting process is not part of it',
    errorType: 'Runtime.AccessDenied',
  });
}
