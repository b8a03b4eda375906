// Baseline: the toy async tier a user would write by hand: express + Queue.add + 202.
import express from 'express';
import { Queue } from 'bullmq';

const queue = new Queue(process.env.QUEUE ?? 'toy', { connection: { url: process.env.REDIS_URL }, prefix: '{bench-toy}' });
const app = express();
app.use(express.json({ limit: '256kb' }));
app.post('/event', async (req, res) => {
  const job = await queue.add('event', req.body, { removeOnComplete: true });
  res.status(202).set('x-request-id', job.id).end();
});
app.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('ready'));
