import type { ResolvedConfig } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { silentLogger } from './harness';

/** An API and a worker on one config, in this process: what most end-to-end tests run against. */
export interface Stack {
  api: ApiService;
  worker: WorkerService;
  /** `http://127.0.0.1:<api port>` */
  base: string;
  close(): Promise<void>;
}

export async function startStack(config: ResolvedConfig): Promise<Stack> {
  const [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
  return {
    api,
    worker,
    base: `http://127.0.0.1:${api.port}`,
    close: async () => {
      await Promise.all([api.close(), worker.close()]);
    },
  };
}
