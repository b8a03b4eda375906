import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import { functionQueueName } from './queue-names';

export interface EventQueueOptions {
  connection: ConnectionOptions;
  prefix: string;
  statusRetentionSeconds: number;
  dlqRetentionSeconds: number;
}

/**
 * BullMQ has no attempts policy of ours: it would freeze retries at enqueue. The worker decides
 * each retry from the function's current policy and throws `UnrecoverableError` to dead-letter,
 * so this is only a backstop far above the 3 attempts Lambda allows.
 */
export const BACKSTOP_ATTEMPTS = 10;
/** The custom backoff every worker registers: the delay comes from the thrown error. */
export const BACKOFF_TYPE = 'invoq';

/** One BullMQ queue per function, created on first use and shared by everything in the process. */
export class EventQueues {
  private readonly queues = new Map<string, Queue>();
  readonly defaultJobOptions: JobsOptions;

  constructor(private readonly options: EventQueueOptions) {
    this.defaultJobOptions = {
      attempts: BACKSTOP_ATTEMPTS,
      backoff: { type: BACKOFF_TYPE },
      // Completed events stay readable for status; failed ones are the dead-letter queue.
      removeOnComplete: { age: options.statusRetentionSeconds },
      removeOnFail: { age: options.dlqRetentionSeconds },
      stackTraceLimit: BACKSTOP_ATTEMPTS,
    };
  }

  get statusRetentionSeconds(): number {
    return this.options.statusRetentionSeconds;
  }

  /** The connection every queue here shares (for the few reads BullMQ has no call for). */
  get connection(): ConnectionOptions {
    return this.options.connection;
  }

  /** A BullMQ key of a function's queue, e.g. `invoq:{orders}:failed`. */
  keyOf(functionName: string, suffix: string): string {
    return `${this.options.prefix}:${functionQueueName(functionName)}:${suffix}`;
  }

  get(functionName: string): Queue {
    let queue = this.queues.get(functionName);
    if (!queue) {
      queue = new Queue(functionQueueName(functionName), {
        connection: this.options.connection,
        prefix: this.options.prefix,
        defaultJobOptions: this.defaultJobOptions,
        // The events stream is for dashboards, not durability: keep it short.
        streams: { events: { maxLen: 1000 } },
      });
      // Errors surface on each call; the emitter must not crash the process.
      queue.on('error', () => undefined);
      this.queues.set(functionName, queue);
    }
    return queue;
  }

  /**
   * False while the shared connection is not ready. BullMQ waits for a connection before it
   * sends anything, so a caller that must answer quickly checks this first.
   */
  get connected(): boolean {
    const connection = this.options.connection as { status?: string };
    return connection.status === undefined || connection.status === 'ready';
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
