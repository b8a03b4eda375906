/**
 * A succeeded event's job stays in Redis only so its status can be read: a payload over 1 KB is
 * dropped from it (the status never showed it), a small one is not worth the write. A failed
 * event keeps its payload, since the DLQ redrives it.
 */
import { EventQueues, KEPT_FINISHED_PAYLOAD_BYTES, closeRedis, createRedisConnection, waitForRedis } from '@invoq/core';
import { startStack, type Stack } from '../support/stack';
import { makeFunctionsDir, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';

const functionsDir = makeFunctionsDir({
  sized: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (event) => ({ bytes: JSON.stringify(event).length });' } },
  refuses: {
    config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 0 } },
    files: { 'index.js': 'exports.handler = async () => { throw new Error("no"); };' },
  },
});
const prefix = uniquePrefix('finished');
const connection = createRedisConnection(testRedisUrl());
const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 60, dlqRetentionSeconds: 60 });
let stack: Stack;
beforeAll(async () => {
  await waitForRedis(connection);
  stack = await startStack(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: prefix }));
});
afterAll(async () => {
  await stack?.close();
  await queues.close();
  await closeRedis(connection);
});

async function fire(fn: string, body: string): Promise<string> {
  const res = await fetch(`${stack.base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { 'x-amz-invocation-type': 'Event' }, body });
  expect(res.status).toBe(202);
  return res.headers.get('x-amzn-requestid')!;
}

it('drops a large payload from a succeeded event, keeps a small one and a failed one', async () => {
  const large = JSON.stringify({ blob: 'x'.repeat(KEPT_FINISHED_PAYLOAD_BYTES * 8) });
  const small = '{"tiny":true}';
  const [largeId, smallId, failedId] = [await fire('sized', large), await fire('sized', small), await fire('refuses', large)];

  const largeJob = await waitFor(
    async () => {
      const job = await queues.get('sized').getJob(largeId);
      return job?.data.payloadDropped !== undefined ? job : undefined;
    },
    10_000,
    'the large payload to be dropped',
  );
  expect(largeJob.data).toMatchObject({ payload: '', payloadDropped: large.length });
  // The status still reads as before, result included.
  const status = (await (await fetch(`${stack.base}/invocations/${largeId}?wait=5`)).json()) as { status: string; result: unknown };
  expect(status).toMatchObject({ status: 'succeeded', result: { bytes: large.length } });

  await waitFor(
    async () => ((await (await fetch(`${stack.base}/invocations/${smallId}?wait=5`)).json()) as { status: string }).status === 'succeeded',
    10_000,
    'the small event',
  );
  expect((await queues.get('sized').getJob(smallId))?.data).toMatchObject({ payload: small });
  expect((await queues.get('sized').getJob(smallId))?.data.payloadDropped).toBeUndefined();

  await waitFor(async () => (await fetch(`${stack.base}/dlq/${failedId}`)).status === 200, 10_000, 'the failed event in the DLQ');
  expect((await queues.get('refuses').getJob(failedId))?.data.payload).toBe(large);
});
