class OrderRejected extends Error {
  constructor(message) {
    super(message);
    this.name = 'OrderRejected';
  }
}
exports.handler = async (event) => {
  throw new OrderRejected(`rejected: ${JSON.stringify(event).slice(0, 100)}`);
};
