// Asynchronous example from the seed: the caller gets 202 at once; this runs on a worker. The
// order's id is the request id the caller got in x-amzn-RequestId, so it can track the order with
// GET /orders/{id}. A callback-style handler, as older Lambda code is written.
const { writeOrder, isProxyEvent } = require('../lib/order-store');

function orderOf(event) {
  if (!isProxyEvent(event)) return event;
  const text = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64').toString('utf8') : event.body;
  return JSON.parse(text ?? 'null');
}

exports.handler = (event, context, callback) => {
  let input;
  try {
    input = orderOf(event);
  } catch {
    callback(new Error('an order must be JSON'));
    return;
  }
  if (!input || typeof input !== 'object' || !input.item) {
    callback(new Error('an order needs an "item"'));
    return;
  }
  const order = writeOrder({
    orderId: context.awsRequestId,
    item: String(input.item),
    quantity: Number(input.quantity ?? 1),
    status: 'processing',
    receivedAt: new Date().toISOString(),
  });
  console.log(`processing order ${order.orderId}: ${order.quantity} × ${order.item}`);
  // The work itself (payment, stock, shipping label…), then the new status.
  setTimeout(() => callback(null, writeOrder({ ...order, status: 'processed', processedAt: new Date().toISOString() })), 50);
};
