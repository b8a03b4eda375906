/**
 * onSuccess / onFailure destinations: Lambda's record, signed with HMAC over a timestamp and the
 * body, delivered with retries apart from the function's queue, failures counted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadFunctions, verifyDelivery } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, uniquePrefix, waitFor } from '../support/harness';

const SECRET = 'destination-secret';
const received: Array<{ path: string; body: string; signature: string | undefined }> = [];
let refuseFirst = true;
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    // The first delivery to /flaky-receiver fails: it must be retried.
    if (req.url === '/flaky-receiver' && refuseFirst) {
      refuseFirst = false;
      res.writeHead(500).end();
      return;
    }
    received.push({ path: req.url ?? '', body, signature: req.headers['x-invoq-signature'] as string | undefined });
    res.writeHead(204).end();
  });
});

let api: ApiService;
let worker: WorkerService;
let base: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const at = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const functionsDir = makeFunctionsDir({
    winner: {
      config: { handler: 'index.handler', async: { onSuccess: `${at}/flaky-receiver` } },
      files: { 'index.js': 'exports.handler = async (event) => ({ total: event.a + event.b });' },
    },
    loser: {
      config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 1, onFailure: `${at}/failures` } },
      files: { 'index.js': 'exports.handler = async () => { throw new RangeError("out of stock"); };' },
    },
    // A function destination: the record arrives as an event for `sink`, which POSTs it on.
    relayed: {
      config: {
        handler: 'index.handler',
        circuitBreaker: false,
        async: { maximumRetryAttempts: 0, onFailure: 'arn:aws:lambda:us-east-1:000000000000:function:sink' },
      },
      files: { 'index.js': 'exports.handler = async () => { throw new Error("relay me"); };' },
    },
    sink: {
      config: { handler: 'index.handler', environment: { AT: at } },
      files: {
        'index.js':
          'exports.handler = async (record, context) => { await fetch(process.env.AT + "/sink", { method: "POST", body: JSON.stringify({ record, sinkRequestId: context.awsRequestId }) }); };',
      },
    },
  });
  const config = testConfig({
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: uniquePrefix('dest'),
    INVOQ_RETRY_BASE_DELAY_MS: '50',
    INVOQ_DESTINATION_SECRET: SECRET,
  });
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
  base = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
  await new Promise((resolve) => receiver.close(resolve));
});

async function fire(fn: string, body: unknown): Promise<string> {
  const res = await fetch(`${base}/2015-03-31/functions/${fn}/invocations`, {
    method: 'POST',
    headers: { 'x-amz-invocation-type': 'Event' },
    body: JSON.stringify(body),
  });
  return res.headers.get('x-amzn-requestid')!;
}

it('POSTs a signed Success record to onSuccess, retrying a failed delivery', async () => {
  const requestId = await fire('winner', { a: 2, b: 3 });
  const delivery = await waitFor(() => received.find((r) => r.path === '/flaky-receiver'), 15_000, 'the success delivery');
  expect(verifyDelivery(SECRET, delivery.body, delivery.signature ?? '')).toBe(true);
  expect(verifyDelivery('another-secret', delivery.body, delivery.signature ?? '')).toBe(false);
  expect(verifyDelivery(SECRET, delivery.body.replace('5', '6'), delivery.signature ?? '')).toBe(false);
  expect(JSON.parse(delivery.body)).toEqual({
    version: '1.0',
    timestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    requestContext: { requestId, functionArn: expect.stringMatching(/:function:winner:\$LATEST$/), condition: 'Success', approximateInvokeCount: 1 },
    requestPayload: { a: 2, b: 3 },
    responseContext: { statusCode: 200, executedVersion: '$LATEST' },
    responsePayload: { total: 5 },
  });
  const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
  expect(metrics).toMatch(/^invoq_destination_delivery_failures_total\{function="winner"\} 1$/m);
});

it('POSTs a RetriesExhausted record with the error to onFailure', async () => {
  const requestId = await fire('loser', { sku: 'X1' });
  const delivery = await waitFor(() => received.find((r) => r.path === '/failures'), 15_000, 'the failure delivery');
  expect(verifyDelivery(SECRET, delivery.body, delivery.signature ?? '')).toBe(true);
  expect(JSON.parse(delivery.body)).toMatchObject({
    requestContext: { requestId, condition: 'RetriesExhausted', approximateInvokeCount: 2 },
    requestPayload: { sku: 'X1' },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    responsePayload: { errorType: 'RangeError', errorMessage: 'out of stock', trace: expect.any(Array) },
  });
});

it('sends the record as an event to a function destination', async () => {
  const requestId = await fire('relayed', { n: 1 });
  const delivery = await waitFor(() => received.find((r) => r.path === '/sink'), 15_000, 'the record to reach the sink function');
  const { record, sinkRequestId } = JSON.parse(delivery.body) as {
    record: { requestContext: { requestId: string; condition: string } };
    sinkRequestId: string;
  };
  expect(record).toMatchObject({
    requestContext: { requestId, condition: 'RetriesExhausted' },
    requestPayload: { n: 1 },
    responsePayload: { errorMessage: 'relay me' },
  });
  // The sink's event has its own id, the same for any repeat of this delivery.
  expect(sinkRequestId).not.toBe(requestId);
  expect(sinkRequestId).toMatch(/^[0-9a-f-]{36}$/);
});

it('refuses a destination that is neither an http(s) URL nor a function ARN', async () => {
  for (const destination of ['arn:aws:sqs:us-east-1:000000000000:queue', 'ftp://example.com/x']) {
    const res = await fetch(`${base}/2019-09-25/functions/winner/event-invoke-config`, {
      method: 'PUT',
      body: JSON.stringify({ DestinationConfig: { OnSuccess: { Destination: destination } } }),
    });
    expect([destination, res.status]).toEqual([destination, 400]);
    expect(((await res.json()) as { Message: string }).Message).toMatch(/http\(s\) URL or a function ARN/);
  }
  const dir = makeFunctionsDir({
    bad: {
      config: { handler: 'index.handler', async: { onSuccess: 'mailto:someone@example.com' } },
      files: { 'index.js': 'exports.handler = async () => 1;' },
    },
  });
  expect(() => loadFunctions(dir)).toThrow(/field "async.onSuccess" must be an http\(s\) URL or a function ARN/);
});
