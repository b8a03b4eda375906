// Synchronous example from the seed: look an order up and answer at once.
const orders = {
  '42': { orderId: '42', item: 'coffee beans', quantity: 2, status: 'shipped' },
};

exports.handler = async (event) => {
  const orderId = String(event?.orderId ?? event?.queryStringParameters?.orderId ?? '42');
  const order = orders[orderId];
  return order ?? { orderId, status: 'unknown' };
};
