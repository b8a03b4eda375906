import { LAMBDA_TIME_ZONE, createLogger, flushLogger, limitHeapGrowth, loadConfig, settleHeapLimit } from '@invoq/core';
import { startWorker } from './worker-service';

async function main(): Promise<void> {
  // First: V8 then collects garbage before it piles up to several times what is live (heap-growth.ts).
  limitHeapGrowth();
  const config = loadConfig(process.env);
  // Functions run in UTC, as in Lambda: execution environments are threads of this process and
  // share its time zone, whatever the machine's.
  process.env.TZ = LAMBDA_TIME_ZONE;
  const logger = createLogger(config.logLevel, 'invoq-worker');
  for (const notice of config.startupNotices) logger.warn(notice);
  const worker = await startWorker(config, logger);
  // Started: the old generation's limit is set from what it holds at rest (heap-growth.ts).
  settleHeapLimit();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: taking no new events, handing back those not started, finishing running ones');
    await worker.close();
    logger.info('stopped');
    // Exit only once the last lines are out: process.exit would cut an asynchronous write short.
    await flushLogger(logger);
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void stop(s));
  process.on('SIGINT', (s) => void stop(s));
}

main().catch((e: unknown) => {
  process.stderr.write(`invoq-worker: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
