// Asynchronous example from the seed: the caller gets 202 at once; this runs on a worker.
// A callback-style handler, as older Lambda code is written.
exports.handler = (event, context, callback) => {
  if (!event || typeof event !== 'object' || !event.item) {
    callback(new Error('an order needs an "item"'));
    return;
  }
  console.log(`processing order for ${event.item} (request ${context.awsRequestId})`);
  setTimeout(() => callback(null, { status: 'processed', item: event.item, processedAt: new Date().toISOString() }), 50);
};
