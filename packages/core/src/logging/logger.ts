import pino, { type Logger } from 'pino';

export type { Logger };

/** How log lines reach stdout. The defaults are what `npm run bench:logs` measured best. */
export interface LoggerOptions {
  /**
   * Bytes gathered before a write to stdout (default 4096): under load, lines go out in a few
   * large writes instead of one write per line. 0 writes each line as it comes.
   */
  bufferBytes?: number;
  /**
   * The longest a line waits in that buffer, in ms (default 100), so a quiet service's lines are
   * seen at once, not after dozens more. 0: lines wait until the buffer is full (or the exit).
   */
  flushIntervalMs?: number;
}

export const LOG_BUFFER_BYTES = 4096;
export const LOG_FLUSH_INTERVAL_MS = 100;

/**
 * The one JSON logger of a process. Payloads and secrets never go in: the redaction list is a
 * safety net for headers that could carry keys.
 */
export function createLogger(level: string, name: string, options: LoggerOptions = {}): Logger {
  const bufferBytes = options.bufferBytes ?? LOG_BUFFER_BYTES;
  // Asynchronous writes keep logging off the request's path; the buffer batches them under load,
  // and the timer (unref'd by sonic-boom, so it never holds the process up) bounds how long a
  // line waits. pino writes what is left synchronously when the process exits.
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: bufferBytes,
    periodicFlush: bufferBytes > 0 ? (options.flushIntervalMs ?? LOG_FLUSH_INTERVAL_MS) : 0,
  });
  return pino(
    {
      name,
      level,
      base: { service: name },
      redact: { paths: ['authorization', 'headers.authorization', 'headers["x-api-key"]', 'apiKey', 'secret'], censor: '[redacted]' },
    },
    destination,
  );
}

/**
 * Resolves once every line logged so far is written (or after `timeoutMs`, so a stdout nobody
 * reads cannot hold a shutdown up). Call it before `process.exit`.
 */
export function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    try {
      logger.flush(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      // A destination already closed has nothing left to write.
      clearTimeout(timer);
      resolve();
    }
  });
}
