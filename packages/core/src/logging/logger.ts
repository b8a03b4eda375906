import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The one JSON logger of a process. Payloads and secrets never go in: the redaction list is a
 * safety net for headers that could carry keys.
 */
export function createLogger(level: string, name: string): Logger {
  // Buffered, asynchronous writes keep logging off the request's critical path; pino flushes
  // the buffer when the process exits.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  return pino({
    name,
    level,
    base: { service: name },
    redact: { paths: ['authorization', 'headers.authorization', 'headers["x-api-key"]', 'apiKey', 'secret'], censor: '[redacted]' },
  }, destination);
}
