// The order example's store: one JSON file per order under ORDERS_DIR (set in each order
// function's function.json, relative to the directory invoq runs in). It stands in for the
// database a real app would use; under Docker Compose the API and the workers share it as a volume.
// `lib/` has no function.json, so invoq does not load it as a function.
const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');

const ORDER_ID = /^[A-Za-z0-9-]{1,64}$/;
const ordersDir = () => path.resolve(process.env.ORDERS_DIR || '.invoq/orders');

exports.readOrder = (orderId) => {
  if (!ORDER_ID.test(orderId)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(path.join(ordersDir(), `${orderId}.json`), 'utf8'));
  } catch {
    return undefined;
  }
};

exports.writeOrder = (order) => {
  if (!ORDER_ID.test(order.orderId)) throw new Error(`bad order id ${order.orderId}`);
  fs.mkdirSync(ordersDir(), { recursive: true });
  const file = path.join(ordersDir(), `${order.orderId}.json`);
  // Write then rename, so a reader never sees half an order.
  const tmp = `${file}.${randomUUID()}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(order));
  fs.renameSync(tmp, file);
  return order;
};

/** True when the event came through a gateway route (API Gateway's REST proxy event). */
exports.isProxyEvent = (event) => Boolean(event && typeof event === 'object' && event.httpMethod && event.requestContext);

/** An API Gateway proxy response with a JSON body. */
exports.jsonResponse = (statusCode, value) => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });
