// putOrder's onSuccess destination. It gets Lambda's destination record: requestContext
// (requestId, condition…), requestPayload, responsePayload (putOrder's result, the order).
const { readOrder, writeOrder } = require('../lib/order-store');

exports.handler = async (record) => {
  const processed = record?.responsePayload;
  if (!processed?.orderId) throw new Error('expected a putOrder success record with the order as responsePayload');
  // Stand-in for an e-mail or a push message.
  console.log(`order ${processed.orderId} is processed: notifying the customer`);
  const order = readOrder(processed.orderId) ?? processed;
  return writeOrder({ ...order, notifiedAt: new Date().toISOString() });
};
