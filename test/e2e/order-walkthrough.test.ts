/**
 * The README's order walkthrough, as a newcomer runs it after `npm start` (auth off on loopback):
 * GET /getOrder answers inline (bare, as in the seed, with the sample order); PUT /putOrder
 * answers 202 and a worker processes the order, updating its status; notifyOrder, putOrder's
 * onSuccess destination, then notifies; a bad order is retried and lands in the DLQ. The bundled
 * functions run as shipped, with their store in a temporary directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, type Stack } from '../support/stack';
import { EXAMPLE_FUNCTIONS_DIR, testConfig, uniquePrefix, waitFor } from '../support/harness';

const ordersDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-orders-'));
const functionsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-order-fns-'));
for (const name of ['getOrder', 'putOrder', 'notifyOrder', 'lib']) {
  fs.cpSync(path.join(EXAMPLE_FUNCTIONS_DIR, name), path.join(functionsDir, name), { recursive: true });
  const file = path.join(functionsDir, name, 'function.json');
  if (!fs.existsSync(file)) continue;
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  config.environment.ORDERS_DIR = ordersDir;
  fs.writeFileSync(file, JSON.stringify(config));
}

let stack: Stack;
beforeAll(async () => {
  stack = await startStack(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('orders'), INVOQ_RETRY_BASE_DELAY_MS: '50' }));
});
afterAll(async () => {
  await stack?.close();
});

interface Order {
  orderId: string;
  item: string;
  quantity: number;
  status: string;
  processedAt?: string;
  notifiedAt?: string;
}

const SAMPLE = { orderId: '42', item: 'coffee beans', quantity: 2, status: 'shipped' };

it('GET /getOrder answers inline', async () => {
  const res = await fetch(`${stack.base}/getOrder?orderId=42`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual(SAMPLE);
  expect((await fetch(`${stack.base}/orders/nope`)).status).toBe(404);
  expect((await fetch(`${stack.base}/getOrder?orderId=nope`)).status).toBe(404);
});

it('answers the seed’s bare GET /getOrder with the sample order, as a direct Invoke does', async () => {
  const res = await fetch(`${stack.base}/getOrder`);
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual(SAMPLE);
  const invoked = await fetch(`${stack.base}/2015-03-31/functions/getOrder/invocations`, { method: 'POST', body: '{}' });
  expect(await invoked.json()).toEqual(SAMPLE);
});

it('PUT /putOrder answers 202; the order is processed in the background, then notified', async () => {
  const res = await fetch(`${stack.base}/putOrder`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"item":"espresso cups","quantity":6}',
  });
  expect(res.status).toBe(202);
  expect(await res.text()).toBe('');
  const orderId = res.headers.get('x-amzn-requestid')!;

  // Track it as a client would, by the id the 202 carried.
  const order = await waitFor(
    async () => {
      const r = await fetch(`${stack.base}/orders/${orderId}`);
      const body = r.status === 200 ? ((await r.json()) as Order) : undefined;
      return body?.notifiedAt ? body : undefined;
    },
    20_000,
    'the order to be processed and notified',
  );
  expect(order).toMatchObject({ orderId, item: 'espresso cups', quantity: 6, status: 'processed' });
  expect(Date.parse(order.notifiedAt!)).toBeGreaterThanOrEqual(Date.parse(order.processedAt!));

  const status = (await (await fetch(`${stack.base}/invocations/${orderId}?wait=10`)).json()) as { status: string; attempts: number };
  expect(status).toMatchObject({ status: 'succeeded', attempts: 1 });
});

it('retries an order it cannot process, then keeps it in the DLQ', async () => {
  const res = await fetch(`${stack.base}/putOrder`, { method: 'PUT', body: '{"quantity":1}' });
  expect(res.status).toBe(202);
  const id = res.headers.get('x-amzn-requestid')!;
  const entry = await waitFor(
    async () => {
      const r = await fetch(`${stack.base}/dlq/${id}`);
      return r.status === 200 ? ((await r.json()) as { attempts: number; reason: string; lastError: { errorMessage: string } }) : undefined;
    },
    20_000,
    'the bad order to reach the DLQ',
  );
  expect(entry).toMatchObject({ attempts: 3, reason: 'RetriesExhausted' });
  expect(JSON.stringify(entry)).toMatch(/an order needs an \\"item\\"/);
});
