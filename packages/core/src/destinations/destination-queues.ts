import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { coerceError } from '../errors';
import { idempotentRequestId } from '../queue/event-producer';
import { functionQueueName } from '../queue/queue-names';
import { isFunctionDestination } from './destination-target';
import type { DestinationRecord } from './destination-record';
import { SIGNATURE_HEADER, signDelivery } from './destination-signature';
import { RUN_RETRY_DELAY_MS } from '../worker/worker-timing';

export interface DeliveryJobData {
  v: 1;
  /** An http(s) URL or a function ARN (the field keeps its first name: queued jobs carry it). */
  url: string;
  record: DestinationRecord;
}

/** Deliveries are retried with growing delays (1 s, 2 s, 4 s, …): six attempts over ~30 s. */
export const DELIVERY_ATTEMPTS = 6;
const DELIVERY_TIMEOUT_MS = 10_000;

/** A function's delivery queue: `{fn}-destinations`, under the function's own hash tag. */
export function destinationQueueName(functionName: string): string {
  return `${functionQueueName(functionName)}-destinations`;
}

export interface DestinationOptions {
  connection: ConnectionOptions;
  prefix: string;
  /** HMAC key for `X-Invoq-Signature`; deliveries are unsigned without it. */
  secret: string | undefined;
  /**
   * Queues `payload` as an event for the function `arn` names, under `requestId` (the same id
   * for a repeated delivery, so the target runs once). Throws if there is no such function.
   */
  sendEvent: (arn: string, requestId: string, payload: string) => Promise<void>;
  /** Called for every failed delivery attempt (for the metric and the log). */
  onFailedAttempt: (functionName: string, job: Job<DeliveryJobData> | undefined, error: Error, final: boolean) => void;
  retryBaseDelayMs?: number;
  /** A delivery worker's `'error'` (e.g. for RedisOomBackoff); ignored without it. */
  onWorkerError?: (worker: Worker<DeliveryJobData>, error: Error) => void;
  /** A delivery worker took a job (Redis took a write). */
  onWorkerActive?: () => void;
}

/**
 * Destination deliveries as their own BullMQ queues: a slow or dead receiver never holds up a
 * function's events, and a delivery survives a worker crash (at least once).
 */
export class DestinationQueues {
  private readonly queues = new Map<string, Queue<DeliveryJobData>>();
  private readonly workers: Array<Worker<DeliveryJobData>> = [];
  private readonly delivering = new Set<string>();
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: DestinationOptions) {}

  private queue(functionName: string): Queue<DeliveryJobData> {
    let queue = this.queues.get(functionName);
    if (!queue) {
      queue = new Queue<DeliveryJobData>(destinationQueueName(functionName), {
        connection: this.options.connection,
        prefix: this.options.prefix,
        defaultJobOptions: {
          attempts: DELIVERY_ATTEMPTS,
          backoff: { type: 'exponential', delay: this.options.retryBaseDelayMs ?? 1000 },
          removeOnComplete: { age: 3600, count: 1000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
        streams: { events: { maxLen: 100 } },
      });
      queue.on('error', () => undefined);
      this.queues.set(functionName, queue);
    }
    return queue;
  }

  async enqueue(functionName: string, url: string, record: DestinationRecord): Promise<void> {
    // One delivery per event and condition: a re-run after a crash does not send it twice
    // while the first is still kept.
    const jobId = `${record.requestContext.requestId}-${record.requestContext.condition}-${record.requestContext.approximateInvokeCount}`;
    await this.queue(functionName).add('deliver', { v: 1, url, record }, { jobId });
  }

  /** Starts delivering for these functions (the worker process does this); again for one already delivering does nothing. */
  startDelivering(functionNames: readonly string[], concurrency = 8): void {
    for (const functionName of functionNames) {
      if (this.delivering.has(functionName)) continue;
      this.delivering.add(functionName);
      const worker = new Worker<DeliveryJobData>(destinationQueueName(functionName), (job) => this.deliver(job), {
        connection: this.options.connection,
        prefix: this.options.prefix,
        concurrency,
        runRetryDelay: RUN_RETRY_DELAY_MS,
      });
      worker.on('failed', (job, err) => this.options.onFailedAttempt(functionName, job, err, job ? job.attemptsMade >= DELIVERY_ATTEMPTS : true));
      worker.on('error', (error) => this.options.onWorkerError?.(worker, error));
      worker.on('active', () => this.options.onWorkerActive?.());
      this.workers.push(worker);
    }
  }

  private async deliver(job: Job<DeliveryJobData>): Promise<void> {
    const body = JSON.stringify(job.data.record);
    if (isFunctionDestination(job.data.url)) {
      await this.options.sendEvent(job.data.url, idempotentRequestId(job.queueName, job.id!), body);
      return;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'invoq-destinations' };
    if (this.options.secret) headers[SIGNATURE_HEADER] = signDelivery(this.options.secret, body);
    let response: Response;
    try {
      response = await fetch(job.data.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
    } catch (e) {
      throw new Error(`delivery to ${new URL(job.data.url).host} failed: ${coerceError(e).message}`);
    }
    await response.body?.cancel();
    if (!response.ok) throw new Error(`delivery to ${new URL(job.data.url).host} answered ${response.status}`);
  }

  /**
   * Stops taking deliveries (those running finish). Called with the function workers' close,
   * before their blocking connections are ended: a BullMQ worker whose blocking connection to a
   * Cluster was already ended never finishes closing.
   */
  stopDelivering(): Promise<void> {
    this.stopping ??= Promise.all(this.workers.map((w) => w.close())).then(() => undefined);
    return this.stopping;
  }

  async close(): Promise<void> {
    await this.stopDelivering();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
