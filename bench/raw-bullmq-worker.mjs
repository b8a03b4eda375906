// Baseline: a plain BullMQ Worker draining no-op jobs, as a user would write it by hand.
import { Worker } from 'bullmq';

const worker = new Worker(process.env.QUEUE, async () => undefined, {
  connection: { url: process.env.REDIS_URL },
  prefix: process.env.PREFIX,
  concurrency: Number(process.env.CONCURRENCY),
});
worker.on('error', () => undefined);
await worker.waitUntilReady();
process.send?.('ready');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
