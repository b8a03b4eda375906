import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Node's own refusals, by its error code: [status, x-amzn-ErrorType, message]. */
const REFUSALS: Record<string, [number, string, string]> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'RequestTimeoutException', 'The request did not arrive in time: send its headers and body without long pauses.'],
  HPE_HEADER_OVERFLOW: [431, 'RequestTooLargeException', 'The request headers are too large.'],
};
const MALFORMED: [number, string, string] = [400, 'InvalidRequestContentException', 'The request is not valid HTTP/1.1.'];

/**
 * The server's `clientError` handler: a request Node's parser refused (malformed request line
 * or headers, headers too large, a client too slow) gets the API's usual error answer (status,
 * `x-amzn-ErrorType`, a JSON message, a request id) instead of a bare status line, then the
 * connection closes. As Node's own handler does, it writes nothing into a response already on
 * its way: that connection is only closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, type, message] = REFUSALS[error.code ?? ''] ?? MALFORMED;
  const body = JSON.stringify({ Type: 'User', Message: message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-amzn-RequestId: ${randomUUID()}\r\n` +
      `x-amzn-ErrorType: ${type}\r\nConnection: close\r\n\r\n${body}`,
  );
}
