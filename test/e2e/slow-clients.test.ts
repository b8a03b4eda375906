/**
 * Slow clients cannot hold the API's connections: headers that trickle in past the headers
 * timeout, or a body that trickles in past the request timeout, get 408 and a closed connection,
 * while other callers are served as usual and a slow *function* still answers in full.
 * (The limits are 10 s and 60 s in production; the test shortens them.)
 */
import net from 'node:net';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { silentLogger, testConfig, uniquePrefix } from '../support/harness';

const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 600;
let api: ApiService;
beforeAll(async () => {
  api = await startApi(testConfig({ INVOQ_QUEUE_PREFIX: uniquePrefix('slow-clients') }), silentLogger(), {
    headersTimeoutMs: HEADERS_TIMEOUT_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
  });
});
afterAll(async () => {
  await api?.close();
});

/**
 * Opens a raw connection, writes `head`, then one more byte of `trickle` every 50 ms, and
 * resolves with what the server sent and how long until it closed the connection.
 */
function trickle(head: string, drip: string): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(api.port, '127.0.0.1', () => socket.write(head));
    let reply = '';
    let i = 0;
    const dripping = setInterval(() => {
      if (!socket.destroyed && !socket.writableEnded) socket.write(drip[i++ % drip.length]!);
    }, 50);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (reply += chunk));
    socket.on('error', () => {}); // a reset after the 408 is part of being closed
    socket.on('close', () => {
      clearInterval(dripping);
      clearTimeout(giveUp);
      resolve({ reply, closedAfterMs: performance.now() - started });
    });
    const giveUp = setTimeout(() => {
      clearInterval(dripping);
      socket.destroy();
      reject(new Error(`the server kept a trickling connection open for 10 s; it sent: ${reply}`));
    }, 10_000);
  });
}

const invokePath = '/2015-03-31/functions/echo/invocations';

it('answers 408 and closes a connection whose headers trickle in', async () => {
  const { reply, closedAfterMs } = await trickle(`POST ${invokePath} HTTP/1.1\r\nHost: localhost\r\nX-Slow: `, 'abcdef');
  expect(reply).toMatch(/^HTTP\/1\.1 408 /);
  // A clear answer, as every other 4xx: the error type and a message.
  expect(reply).toMatch(/^x-amzn-errortype: RequestTimeoutException\r$/im);
  expect(reply).toMatch(/\r\n\r\n\{"Type":"User","Message":"The request did not arrive in time[^"]*"\}$/);
  expect(closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
  // Loose: the deadline is checked every headersTimeout / 2.
  expect(closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS * 10);
});

it('answers 408 and closes a connection whose body trickles in', async () => {
  const head = `POST ${invokePath} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"a":"`;
  const { reply, closedAfterMs } = await trickle(head, 'xxxxxxxx');
  expect(reply).toMatch(/^HTTP\/1\.1 408 /);
  expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
  expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS * 10);
});

it('serves other callers while slow clients trickle, and lets a slow function answer in full', async () => {
  const slowClients = Array.from({ length: 20 }, () => trickle(`POST ${invokePath} HTTP/1.1\r\nHost: localhost\r\nX-Slow: `, 'abc'));
  const echo = await fetch(`http://127.0.0.1:${api.port}${invokePath}`, { method: 'POST', body: '{"ok":true}' });
  expect(echo.status).toBe(200);
  expect(await echo.json()).toEqual({ ok: true });
  // The request timeout bounds receiving the request, not the answer: this run outlasts it.
  const slow = await fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/slow/invocations`, {
    method: 'POST',
    body: JSON.stringify({ ms: REQUEST_TIMEOUT_MS + 200 }),
  });
  expect(slow.status).toBe(200);
  expect(slow.headers.get('x-amz-function-error')).toBeNull();
  for (const { reply } of await Promise.all(slowClients)) expect(reply).toMatch(/^HTTP\/1\.1 408 /);
});
