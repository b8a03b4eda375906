/**
 * What operators see in the service log for an invocation: one JSON line with the request id,
 * and the function's own lines framed by Lambda's START / END / REPORT. Never the payload.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { makeFunctionsDir, testConfig, uniquePrefix, waitFor } from '../support/harness';

const lines: Array<Record<string, unknown>> = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});
const functionsDir = makeFunctionsDir({
  talker: {
    config: { handler: 'index.handler' },
    files: { 'index.js': 'exports.handler = async (event) => { console.log("working on", event.order); console.warn("careful"); return { done: true }; };' },
  },
  quitter: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => { console.log("bye"); process.exit(2); };' } },
});
let api: ApiService;

beforeAll(async () => {
  api = await startApi(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('log') }), pino({ level: 'info' }, sink));
});
afterAll(async () => {
  await api?.close();
});

const invoke = (fn: string, body: string) => fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', body });

it('logs each invocation with its request id and its lines framed by START / END / REPORT', async () => {
  const res = await invoke('talker', '{"order":"A-17","card":"4111-SECRET"}');
  const requestId = res.headers.get('x-amzn-requestid');
  const entry = lines.find((l) => l.requestId === requestId && l.msg === 'invocation');
  expect(entry).toMatchObject({ functionName: 'talker', type: 'sync', outcome: 'success', durationMs: expect.any(Number) });
  const log = entry!.log as string[];
  expect(log[0]).toBe(`START RequestId: ${requestId} Version: $LATEST`);
  expect(log[1]).toMatch(new RegExp(`\\t${requestId}\\tINFO\\tworking on A-17$`));
  expect(log[2]).toMatch(/\tWARN\tcareful$/);
  expect(log[3]).toBe(`END RequestId: ${requestId}`);
  expect(log[4]).toMatch(
    new RegExp(`^REPORT RequestId: ${requestId}\\tDuration: [\\d.]+ ms\\tBilled Duration: \\d+ ms\\tMemory Size: 128 MB\\tMax Memory Used: \\d+ MB\\t`),
  );
  // The payload itself is never logged (only what the function chose to print).
  expect(JSON.stringify(lines)).not.toContain('4111-SECRET');
});

it('contains process.exit() through the API, and the next call still works', async () => {
  const res = await invoke('quitter', '{}');
  expect(res.status).toBe(200);
  expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
  expect(await res.json()).toMatchObject({ errorType: 'Runtime.ExitError', errorMessage: expect.stringContaining('exit status 2') });
  const entry = lines.find((l) => l.requestId === res.headers.get('x-amzn-requestid'));
  expect(entry).toMatchObject({ outcome: 'Runtime.ExitError' });
  expect((entry!.log as string[]).some((line) => line.endsWith('\tINFO\tbye'))).toBe(true);
  expect((await invoke('talker', '{}')).status).toBe(200);
});

it('writes one access line for other requests, with the request id and status, never the body', async () => {
  const res = await fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/talker/invocations`, {
    method: 'POST',
    headers: { 'x-amz-invocation-type': 'Event' },
    body: '{"card":"4111-SECRET-2"}',
  });
  const requestId = res.headers.get('x-amzn-requestid');
  const entry = await waitFor(() => lines.find((l) => l.requestId === requestId), 5000, 'the access line');
  expect(entry).toMatchObject({ msg: 'request', method: 'POST', path: '/2015-03-31/functions/:functionName/invocations', status: 202 });
  expect(JSON.stringify(lines)).not.toContain('4111-SECRET-2');
});
