/** INVOQ_MAX_QUEUED_EVENTS: past it, Event answers 429 (never 500), and Redis holds no more. */
import { Queue } from 'bullmq';
import { functionQueueName } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { silentLogger, testConfig, testRedisUrl, uniquePrefix } from '../support/harness';

const prefix = uniquePrefix('cap');
let api: ApiService;
beforeAll(async () => {
  // No worker: every accepted event stays queued.
  api = await startApi(testConfig({ INVOQ_QUEUE_PREFIX: prefix, INVOQ_MAX_QUEUED_EVENTS: '5' }), silentLogger());
});
afterAll(async () => {
  await api?.close();
});

it('accepts up to the cap, then answers 429 TooManyRequestsException with Retry-After', async () => {
  const statuses: number[] = [];
  let refused: Response | undefined;
  for (let i = 0; i < 12; i += 1) {
    const res = await fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/echo/invocations`, {
      method: 'POST',
      headers: { 'x-amz-invocation-type': 'Event' },
      body: '{}',
    });
    statuses.push(res.status);
    if (res.status === 429) refused = res;
  }
  expect(statuses.filter((s) => s === 202)).toHaveLength(5);
  expect(statuses.slice(5).every((s) => s === 429)).toBe(true);
  expect(refused!.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
  expect(refused!.headers.get('retry-after')).toBe('1');
  expect(await refused!.json()).toEqual({ Type: 'User', Message: 'Too many queued events (limit 5); retry later.', Reason: 'QueuedEventLimitExceeded' });
  const queue = new Queue(functionQueueName('echo'), { connection: { url: testRedisUrl() }, prefix });
  try {
    expect(await queue.getWaitingCount()).toBe(5);
  } finally {
    await queue.close();
  }
  expect(await (await fetch(`http://127.0.0.1:${api.port}/metrics`)).text()).toMatch(
    /^invoq_throttles_total\{function="echo",type="async",reason="QueuedEventLimitExceeded"\} 7$/m,
  );
});
