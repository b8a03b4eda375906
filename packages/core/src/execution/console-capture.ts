import { format } from 'node:util';

/**
 * Replaces `console`'s methods the way Lambda's Node.js runtime does: each call becomes one line,
 * `<ISO time>\t<request id>\t<LEVEL>\t<message>`, handed to `write`. Shared by the thread runtime
 * and the process runtime, so a function logs the same in both.
 */
export function captureConsole(requestId: () => string | undefined, write: (line: string) => void): void {
  const capture =
    (level: string) =>
    (...args: unknown[]): void =>
      write(`${new Date().toISOString()}\t${requestId() ?? 'undefined'}\t${level}\t${format(...args)}`);
  console.log = capture('INFO');
  console.info = capture('INFO');
  console.warn = capture('WARN');
  console.error = capture('ERROR');
  console.debug = capture('DEBUG');
  console.trace = capture('TRACE');
}
