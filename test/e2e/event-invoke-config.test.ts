/**
 * The event-invoke-config API through the AWS SDK v3, against a real API and worker: Put replaces
 * the whole configuration (function.json's destinations included), Update merges, Delete returns
 * to function.json's, and Get shows, in each state, what the worker then runs.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import {
  DeleteFunctionEventInvokeConfigCommand,
  GetFunctionEventInvokeConfigCommand,
  InvalidParameterValueException,
  InvokeCommand,
  LambdaClient,
  ListFunctionEventInvokeConfigsCommand,
  PutFunctionEventInvokeConfigCommand,
  ResourceNotFoundException,
  UpdateFunctionEventInvokeConfigCommand,
  type FunctionEventInvokeConfig,
} from '@aws-sdk/client-lambda';
import { Queue } from 'bullmq';
import { destinationQueueName } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

interface Delivery {
  path: string;
  record: { requestContext: { requestId: string; condition: string; approximateInvokeCount: number } };
}
const received: Delivery[] = [];
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => (body += chunk.toString()));
  req.on('end', () => {
    received.push({ path: req.url ?? '', record: JSON.parse(body) as Delivery['record'] });
    res.writeHead(204).end();
  });
});

const API_KEY = 'eic-user-key';
const admin = { accessKeyId: 'AKIDEICADMIN', secretAccessKey: 'eic-admin-secret' };
const prefix = uniquePrefix('eic');
let at: string;
let functionsDir: string;
let api: ApiService;
let worker: WorkerService;
let lambda: LambdaClient;
const queues: Queue[] = [];

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  at = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  functionsDir = makeFunctionsDir({
    notify: {
      config: { handler: 'index.handler', async: { onSuccess: `${at}/notify` } },
      files: { 'index.js': 'exports.handler = async () => ({ ok: true });' },
    },
    plain: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => ({ ok: true });' } },
    tuned: {
      config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 1, onFailure: `${at}/tuned` } },
      files: { 'index.js': 'exports.handler = async () => { throw new Error("sold out"); };' },
    },
  });
  const config = testConfig({
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: prefix,
    INVOQ_API_KEYS: API_KEY,
    INVOQ_AWS_CREDENTIALS: `${admin.accessKeyId}:${admin.secretAccessKey}:admin`,
    INVOQ_RETRY_BASE_DELAY_MS: '50',
  });
  // No configuration cache in this worker: each event runs with what the call just before it set.
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger(), { eventInvokeConfigCacheMs: 0 })]);
  lambda = new LambdaClient({ endpoint: `http://127.0.0.1:${api.port}`, region: 'us-east-1', credentials: admin, maxAttempts: 1 });
});
afterAll(async () => {
  lambda?.destroy();
  await Promise.all(queues.map((q) => q.close()));
  await Promise.all([api?.close(), worker?.close()]);
  await new Promise((resolve) => receiver.close(resolve));
});

/** What Get answered, without the SDK's metadata. */
const shown = ({ $metadata: _, ...config }: FunctionEventInvokeConfig & { $metadata: unknown }) => config;
const arnOf = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}:$LATEST`;
const get = async (name: string) => shown(await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name })));
const list = async (name: string) => (await lambda.send(new ListFunctionEventInvokeConfigsCommand({ FunctionName: name }))).FunctionEventInvokeConfigs;

/** Sends an event and answers its final status once the worker has finished it. */
async function runEvent(name: string): Promise<{ requestId: string; status: string; attempts: number }> {
  const out = await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from('{}') }));
  const requestId = out.$metadata.requestId!;
  const res = await fetch(`http://127.0.0.1:${api.port}/invocations/${requestId}?wait=20`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return { requestId, ...((await res.json()) as { status: string; attempts: number }) };
}

/** The delivery of `requestId`'s record, once it has arrived. */
const deliveryOf = (requestId: string) =>
  waitFor(() => received.find((d) => d.record.requestContext.requestId === requestId), 15_000, `the destination record of ${requestId}`);

/** Whether any destination delivery was queued for the event (it is queued before the event finishes). */
async function deliveryQueued(name: string, requestId: string): Promise<boolean> {
  const queue = new Queue(destinationQueueName(name), { connection: { url: testRedisUrl() }, prefix });
  queues.push(queue);
  const ids = (await queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'])).map((job) => job.id ?? '');
  return ids.some((id) => id.startsWith(requestId)) || received.some((d) => d.record.requestContext.requestId === requestId);
}

it('with nothing Put, Get and List show function.json’s async block, and it runs', async () => {
  const shownNow = await get('notify');
  expect(shownNow).toEqual({
    FunctionArn: arnOf('notify'),
    LastModified: expect.any(Date),
    DestinationConfig: { OnSuccess: { Destination: `${at}/notify` }, OnFailure: {} },
  });
  // Dated by function.json, as GetFunction's LastModified is.
  const fileChanged = fs.statSync(path.join(functionsDir, 'notify', 'function.json')).mtimeMs;
  expect(Math.abs(shownNow.LastModified!.getTime() - fileChanged)).toBeLessThanOrEqual(1);
  expect(await list('notify')).toEqual([shownNow]);

  const event = await runEvent('notify');
  expect(event.status).toBe('succeeded');
  expect((await deliveryOf(event.requestId)).path).toBe('/notify');
});

it('Put replaces the whole configuration: without a destination, function.json’s onSuccess no longer fires', async () => {
  const put = shown(await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'notify', MaximumRetryAttempts: 0 })));
  // As AWS answers it: the settings Put, nothing else (no MaximumEventAgeInSeconds means Lambda's
  // default, 21600 s), and both destination sides empty.
  expect(put).toEqual({
    FunctionArn: arnOf('notify'),
    LastModified: expect.any(Date),
    MaximumRetryAttempts: 0,
    DestinationConfig: { OnSuccess: {}, OnFailure: {} },
  });
  expect(await get('notify')).toEqual(put);
  expect(await list('notify')).toEqual([put]);

  const event = await runEvent('notify');
  expect(event).toMatchObject({ status: 'succeeded', attempts: 1 });
  expect(await deliveryQueued('notify', event.requestId)).toBe(false);
});

it('Delete returns to function.json’s configuration: Get shows it and its destination fires again', async () => {
  const deleted = await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'notify' }));
  expect(deleted.$metadata.httpStatusCode).toBe(204);
  expect(await get('notify')).toEqual({
    FunctionArn: arnOf('notify'),
    LastModified: expect.any(Date),
    DestinationConfig: { OnSuccess: { Destination: `${at}/notify` }, OnFailure: {} },
  });

  const event = await runEvent('notify');
  expect(event.status).toBe('succeeded');
  expect((await deliveryOf(event.requestId)).path).toBe('/notify');
  // Deleting again changes nothing: function.json's configuration is still the one in force.
  expect((await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'notify' }))).$metadata.httpStatusCode).toBe(204);
});

it('a function without an async block has no configuration until one is Put; Update merges into it', async () => {
  const none = "The function arn:aws:lambda:us-east-1:000000000000:function:plain:$LATEST doesn't have an EventInvokeConfig";
  await expect(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'plain' }))).rejects.toMatchObject({
    name: 'ResourceNotFoundException',
    message: none,
  });
  await expect(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'plain', MaximumRetryAttempts: 1 }))).rejects.toBeInstanceOf(
    ResourceNotFoundException,
  );
  await expect(lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'plain' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  expect(await list('plain')).toEqual([]);
  const quiet = await runEvent('plain');
  expect(quiet.status).toBe('succeeded');
  expect(await deliveryQueued('plain', quiet.requestId)).toBe(false);

  await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'plain', DestinationConfig: { OnSuccess: { Destination: `${at}/plain` } } }));
  const updated = shown(await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'plain', MaximumRetryAttempts: 1 })));
  expect(updated).toEqual({
    FunctionArn: arnOf('plain'),
    LastModified: expect.any(Date),
    MaximumRetryAttempts: 1,
    DestinationConfig: { OnSuccess: { Destination: `${at}/plain` }, OnFailure: {} },
  });
  expect(await get('plain')).toEqual(updated);
  const event = await runEvent('plain');
  expect((await deliveryOf(event.requestId)).path).toBe('/plain');

  await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: 'plain' }));
  await expect(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: 'plain' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  const quietAgain = await runEvent('plain');
  expect(quietAgain.status).toBe('succeeded');
  expect(await deliveryQueued('plain', quietAgain.requestId)).toBe(false);
});

it('Update with nothing Put merges into function.json’s block, whose retries and onFailure still run', async () => {
  const updated = shown(await lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'tuned', MaximumEventAgeInSeconds: 3600 })));
  expect(updated).toEqual({
    FunctionArn: arnOf('tuned'),
    LastModified: expect.any(Date),
    MaximumRetryAttempts: 1,
    MaximumEventAgeInSeconds: 3600,
    DestinationConfig: { OnSuccess: {}, OnFailure: { Destination: `${at}/tuned` } },
  });
  expect(await get('tuned')).toEqual(updated);
  const event = await runEvent('tuned');
  expect(event).toMatchObject({ status: 'dead-lettered', attempts: 2 });
  expect((await deliveryOf(event.requestId)).record.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 2 });
});

it('a Put or Update that sets nothing is refused, as Lambda refuses it', async () => {
  const refusal = { name: 'InvalidParameterValueException', message: 'You must specify at least one of error handling or destination setting.' };
  await expect(lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: 'notify' }))).rejects.toMatchObject(refusal);
  await expect(lambda.send(new UpdateFunctionEventInvokeConfigCommand({ FunctionName: 'notify' }))).rejects.toBeInstanceOf(InvalidParameterValueException);
  // Nothing was changed by the refusals.
  expect((await get('notify')).DestinationConfig).toEqual({ OnSuccess: { Destination: `${at}/notify` }, OnFailure: {} });
});
