/**
 * A CPU-bound function under concurrent sync calls through the API: no call is refused while
 * an environment can be had, and the function is not held to one thread.
 */
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { makeFunctionsDir, silentLogger, testConfig, uniquePrefix } from '../support/harness';

const functionsDir = makeFunctionsDir({
  spinning: {
    config: { handler: 'index.handler' },
    files: {
      'index.js':
        'exports.handler = async (event) => { const until = Date.now() + event.ms; while (Date.now() < until) {} return { threadId: require("node:worker_threads").threadId }; };',
    },
  },
});

let api: ApiService;
beforeAll(async () => {
  // The default INVOQ_MAX_ENVIRONMENTS (16) and INVOQ_SYNC_WAIT_MS (1000).
  api = await startApi(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('computing') }), silentLogger());
});
afterAll(async () => {
  await api?.close();
});

const call = async (ms: number) => {
  const res = await fetch(`http://127.0.0.1:${api.port}/2015-03-31/functions/spinning/invocations`, { method: 'POST', body: JSON.stringify({ ms }) });
  return { status: res.status, body: (await res.json()) as { threadId?: number } };
};

it('answers 16 concurrent 100 ms computing calls, five rounds, with no 429', async () => {
  await call(20);
  const answers = [];
  for (let round = 0; round < 5; round += 1) answers.push(...(await Promise.all(Array.from({ length: 16 }, () => call(100)))));
  expect(answers.filter((a) => a.status !== 200)).toEqual([]);
  // Before, the API kept a computing function on one thread, and calls past the wait got 429.
  expect(new Set(answers.map((a) => a.body.threadId)).size).toBeGreaterThan(1);
}, 60_000);
