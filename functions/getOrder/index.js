// Synchronous example from the seed: look an order up and answer at once. Through a gateway
// route it gets API Gateway's proxy event and answers a proxy response; invoked directly (Lambda's
// Invoke) it gets `{"orderId": "…"}` and answers the order. Either way, no orderId means the
// sample order, so the seed's bare `GET /getOrder` works as written.
const { readOrder, isProxyEvent, jsonResponse } = require('../lib/order-store');

// The seed's sample order, always there.
const SAMPLE = { orderId: '42', item: 'coffee beans', quantity: 2, status: 'shipped' };
const findOrder = (orderId) => readOrder(orderId) ?? (orderId === SAMPLE.orderId ? SAMPLE : undefined);

exports.handler = async (event) => {
  if (isProxyEvent(event)) {
    const orderId = event.pathParameters?.orderId || event.queryStringParameters?.orderId || SAMPLE.orderId;
    const order = findOrder(orderId);
    return order ? jsonResponse(200, order) : jsonResponse(404, { message: `order ${orderId} not found` });
  }
  const orderId = String(event?.orderId ?? SAMPLE.orderId);
  return findOrder(orderId) ?? { orderId, status: 'unknown' };
};
