// Baseline: a plain BullMQ Worker draining no-op jobs, as a user would write it by hand.
import { Worker } from 'bullmq';

// With REPORT_LATENCIES, it keeps each job's enqueue-to-start (its start less its add, as BullMQ
// stamps them) and sends them, and forgets them, when the parent asks (`latencies`).
const latencies = [];
const report = process.env.REPORT_LATENCIES === '1';
process.on('message', (message) => {
  if (message === 'latencies') process.send?.({ latencies: latencies.splice(0) });
});
const worker = new Worker(process.env.QUEUE, async (job) => (report ? void latencies.push(job.processedOn - job.timestamp) : undefined), {
  connection: { url: process.env.REDIS_URL },
  prefix: process.env.PREFIX,
  concurrency: Number(process.env.CONCURRENCY),
});
worker.on('error', () => undefined);
await worker.waitUntilReady();
process.send?.('ready');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
