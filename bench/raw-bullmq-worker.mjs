// Baseline: a plain BullMQ Worker draining no-op jobs, as a user would write it by hand.
// With WITH_INVOQ_OPTIONS, the same worker given the options of invoq's that reach Redis (its
// queue-hold limiter, a custom backoff), and keeping the payload as invoq keeps an event's
// result: what a hand-rolled worker with the same guarantees pays in BullMQ and Redis.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'bullmq';

const withInvoqOptions = process.env.WITH_INVOQ_OPTIONS === '1';
const invoqOptions = () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const { HOLD_ONLY_LIMITER } = createRequire(import.meta.url)(path.join(root, 'packages/core/dist/index.js'));
  return { limiter: { ...HOLD_ONLY_LIMITER }, settings: { backoffStrategy: () => 1000 } };
};

// With REPORT_LATENCIES, it keeps each job's enqueue-to-start (its start less its add, as BullMQ
// stamps them) and sends them, and forgets them, when the parent asks (`latencies`).
const latencies = [];
const report = process.env.REPORT_LATENCIES === '1';
process.on('message', (message) => {
  if (message === 'latencies') process.send?.({ latencies: latencies.splice(0) });
});
const processJob = withInvoqOptions
  ? async (job) => ({ result: job.data.payload })
  : async (job) => (report ? void latencies.push(job.processedOn - job.timestamp) : undefined);
const worker = new Worker(process.env.QUEUE, processJob, {
  connection: { url: process.env.REDIS_URL },
  prefix: process.env.PREFIX,
  concurrency: Number(process.env.CONCURRENCY),
  ...(withInvoqOptions ? invoqOptions() : {}),
});
worker.on('error', () => undefined);
await worker.waitUntilReady();
process.send?.('ready');
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
