import type { IncomingMessage, ServerResponse } from 'node:http';

/*
 * Wire details of Lambda's Runtime API, mirrored from AWS's Runtime Interface Emulator
 * (github.com/aws/aws-lambda-runtime-interface-emulator @ 4fa2157, `internal/lambda/`):
 * bodies from `rapi/rendering/render_error.go` and `rapi/rendering/rendering.go`, the
 * size limit from `interop/model.go`, error-type scrubbing from `fatalerror/fatalerror.go`.
 */

/** `interop.MaxPayloadSize`: 6 MiB plus the 100 bytes of slack Lambda allows. */
export const DEFAULT_MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100;

/** Runtime state names as the emulator prints them in InvalidStateTransition messages (`core/runtime_state_names.go`). */
export type RuntimeStateName = 'Started' | 'InitError' | 'Ready' | 'Running' | 'InvocationResponse' | 'InvocationErrorResponse' | 'RuntimeResponseSentState';

// Go's json.Encoder ends every document with a newline; runtimes never look, but the bytes match.
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  // A length, not chunks: the emulator's Go server sends one, and minimal runtimes read by it.
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** `rendering.RenderAccepted`. */
export function sendAccepted(res: ServerResponse): void {
  sendJson(res, 202, { status: 'OK' });
}

/** `middleware.AwsRequestIDValidator` → `rendering.RenderInvalidRequestID`. */
export function sendInvalidRequestId(res: ServerResponse): void {
  sendJson(res, 400, { errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
}

/** `rendering.RenderForbiddenWithTypeMsg` with `StateTransitionFailedForRuntimeMessageFormat` and `core.ErrNotAllowed`. */
export function sendInvalidStateTransition(res: ServerResponse, from: RuntimeStateName, to: RuntimeStateName): void {
  sendJson(res, 403, {
    errorMessage: `State transition from ${from} to ${to} failed for runtime. Error: State transition is not allowed`,
    errorType: 'InvalidStateTransition',
  });
}

/** `rendering.RenderRequestEntityTooLarge`. */
export function sendRequestEntityTooLarge(res: ServerResponse, maxBytes: number): void {
  sendJson(res, 413, { errorMessage: `Exceeded maximum allowed payload size (${maxBytes} bytes).`, errorType: 'RequestEntityTooLarge' });
}

/** What the caller gets instead of an oversized response: `interop.ErrorResponseTooLarge.AsErrorResponse`. */
export function oversizedResponseError(size: number, maxBytes: number): { errorType: string; body: Buffer } {
  const errorType = 'Function.ResponseSizeTooLarge';
  const errorMessage = `Response payload size (${size} bytes) exceeded maximum allowed payload size (${maxBytes} bytes).`;
  return { errorType, body: Buffer.from(JSON.stringify({ errorType, errorMessage })) };
}

/** Go's `http.NotFound`, which chi answers for paths it has no route for. */
export function sendNotFound(res: ServerResponse): void {
  res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end('404 page not found\n');
}

/** chi's answer for a known path with the wrong method: 405, an Allow header, no body. */
export function sendMethodNotAllowed(res: ServerResponse, allow: string): void {
  res.writeHead(405, { Allow: allow });
  res.end();
}

/** `middleware.AllowIfExtensionsEnabled` with extensions off: a bare 404 for the whole Extensions API. */
export function sendBareNotFound(res: ServerResponse): void {
  res.writeHead(404);
  res.end();
}

/** `handler/runtimelogs_stub.go`: Logs and Telemetry subscriptions are accepted and answered "not supported". */
export function sendApiNotSupported(res: ServerResponse, api: 'Logs' | 'Telemetry'): void {
  sendJson(res, 202, { errorMessage: `${api} API is not supported`, errorType: `${api}.NotSupported` });
}

// Unanchored, as Go's regexp.MatchString is: "xRuntime.Foo1" passes just as the emulator lets it.
const VALID_ERROR_TYPE = /(Runtime|Function)\.[A-Z][a-zA-Z]+/;

/** `fatalerror.GetValidRuntimeOrFunctionErrorType`: the header is customer data, so only the allowed shape passes. */
export function normaliseErrorType(header: string | undefined): string {
  const errorType = header ?? '';
  if (VALID_ERROR_TYPE.test(errorType)) return errorType;
  return errorType.startsWith('Function.') ? 'Function.Unknown' : 'Runtime.Unknown';
}

export type BodyRead = { kind: 'body'; body: Buffer } | { kind: 'tooLarge'; size: number } | { kind: 'aborted' };

/**
 * Reads a request body, keeping at most `maxBytes` in memory. Past the limit it goes on counting
 * (the emulator reads it all to report the size) but drops the bytes.
 */
export function readBodyWithin(req: IncomingMessage, maxBytes: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > maxBytes ? { kind: 'tooLarge', size } : { kind: 'body', body: Buffer.concat(chunks) }));
    req.on('error', () => resolve({ kind: 'aborted' }));
    req.on('aborted', () => resolve({ kind: 'aborted' }));
  });
}
