// Profile the worker draining N queued echo events. usage: node bench/.prof-worker.mjs N [extra node args json]
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { randomUUID } from 'node:crypto';
const require = createRequire(import.meta.url);
const { EventProducer, EventQueues, closeRedis, createRedisConnection, waitForRedis } = require('/work/main/packages/core/dist/index.js');
const { Queue } = require('bullmq');
const N = Number(process.argv[2] ?? 30000);
const args = JSON.parse(process.argv[3] ?? '["--cpu-prof","--cpu-prof-dir=/tmp/prof/out"]');
const prefix = `pw-${Date.now()}`;
const connection = createRedisConnection('redis://127.0.0.1:6379', { autoPipelining: true });
await waitForRedis(connection);
const queues = new EventQueues({ connection, prefix, statusRetentionSeconds: 600, dlqRetentionSeconds: 600 });
const producer = new EventProducer(queues);
for (let i = 0; i < N; i += 1000) await Promise.all(Array.from({ length: 1000 }, () => producer.enqueue('echo', randomUUID(), '{"hello":"world","n":42}')));
const q = new Queue('{echo}', { connection: { url: 'redis://127.0.0.1:6379' }, prefix });
const w = spawn('node', [...args, 'apps/worker/dist/main.js'], { cwd: '/work/main', stdio: 'ignore', env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:6379', INVOQ_METRICS_PORT: '0', INVOQ_QUEUE_PREFIX: prefix, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', NODE_ENV: 'production', INVOQ_API_KEYS: 'k' } });
let first;
for (;;) {
  const c = await q.getJobCounts('waiting', 'active', 'completed');
  if (!first && c.completed > 0) first = { t: performance.now(), c: c.completed };
  if (first && c.waiting + c.active === 0) { console.log('drain/s', Math.round((c.completed - first.c) / ((performance.now() - first.t) / 1000))); break; }
  await new Promise((r) => setTimeout(r, 20));
}
w.kill('SIGTERM');
await new Promise((r) => w.once('exit', r));
await q.obliterate({ force: true }).catch(() => {});
await q.close(); await queues.close(); await closeRedis(connection);
