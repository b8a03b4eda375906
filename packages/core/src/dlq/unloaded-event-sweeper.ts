import { randomUUID } from 'node:crypto';
import { Worker, type Job } from 'bullmq';
import type { DeadLetterReason, RetryPolicy } from '../policy/retry-policy';
import { DeadLetterError } from '../worker/attempt-errors';
import { queueHoldRemainingMs } from '../worker/queue-hold';
import type { EventQueues } from '../queue/event-queues';
import { eventAgeStart, isEventJobData, type EventJobData } from '../queue/job-data';
import { functionQueueName } from '../queue/queue-names';
import type { RedisClient } from '../redis/redis-connection';

/** The longest one wait for a queue's hold to lapse, so a stop is not kept waiting. */
const MAX_HOLD_WAIT_MS = 1000;

/** BullMQ scores a delayed job `timestamp × 0x1000 + counter`. */
const DELAYED_SCORE_SHIFT = 0x1000;

export interface UnloadedEventSweeperOptions {
  queues: EventQueues;
  prefix: string;
  /** The function's retry policy as Redis keeps it (its event-invoke config), its file being gone. */
  policyOf: (functionName: string) => Promise<RetryPolicy>;
  /** Called for each event moved to the dead-letter queue (to count and log it). */
  onDeadLettered: (functionName: string, job: Job<EventJobData>, reason: DeadLetterReason) => void;
  /** Most events moved per function and sweep (default 1000), so one sweep stays short. */
  batch?: number;
}

/**
 * Lambda's rule for an event whose function is gone, applied to functions no live worker loads:
 * once it is older than the function's maximum event age (the one kept in Redis, else Lambda's
 * 6 h), it moves to the function's dead-letter queue with reason `FunctionNotFound`, where it can
 * be redriven once the function is back. Younger events stay queued and run when it is.
 *
 * The move is BullMQ's own: the event is fetched as a worker fetches (oldest first) and failed
 * with the same unrecoverable error the processor throws, so it lands in the failed set atomically,
 * with its attempt record, retention and events, as any dead-lettered event. An event is fetched
 * only when the oldest queued one (or the first retry due) is past its age; one that turns out
 * younger (a redrive re-queued meanwhile) goes straight back.
 */
export class UnloadedEventSweeper {
  private readonly batch: number;
  private stopped = false;

  constructor(private readonly options: UnloadedEventSweeperOptions) {
    this.batch = options.batch ?? 1000;
  }

  private get redis(): RedisClient {
    return this.options.queues.connection as RedisClient;
  }

  /** Ends sweeps in progress after the event in hand (the process is stopping). */
  stop(): void {
    this.stopped = true;
  }

  /**
   * Moves the events of `functionName` (a function no live worker loads) that are past their
   * maximum event age to its dead-letter queue, oldest first, up to `batch`; answers how many.
   */
  async sweep(functionName: string): Promise<number> {
    if (this.stopped) return 0;
    const policy = await this.options.policyOf(functionName);
    const maxAgeMs = policy.maximumEventAgeInSeconds * 1000;
    const tooOld = (job: Job<EventJobData> | undefined) => !!job && isEventJobData(job.data) && Date.now() > eventAgeStart(job.data) + maxAgeMs;
    return this.moveOut(functionName, tooOld, () => this.hasWork(functionName, tooOld), {
      errorType: 'FunctionNotFound',
      errorMessage: `Function not found: ${functionName} (no worker loads it), and the event is older than its maximum event age (${policy.maximumEventAgeInSeconds} s)`,
      reason: 'FunctionNotFound',
    });
  }

  /**
   * Moves every queued event of a deleted function (waiting, prioritized, and retries not yet
   * due, which are made due first) to its dead-letter queue as `FunctionDeleted`, up to `batch`;
   * answers how many. Lambda drops them; here they stay, to be redriven if the function returns.
   */
  async sweepDeleted(functionName: string): Promise<number> {
    if (this.stopped) return 0;
    await this.options.queues.get(functionName).promoteJobs();
    const any = () => true;
    return this.moveOut(
      functionName,
      any,
      async () => (await this.redis.lindex(this.options.queues.keyOf(functionName, 'wait'), -1)) !== null || (await this.hasPrioritized(functionName)),
      {
        errorType: 'FunctionDeleted',
        errorMessage: `Function ${functionName} was deleted before the event ran`,
        reason: 'FunctionDeleted',
      },
    );
  }

  private async hasPrioritized(functionName: string): Promise<boolean> {
    return (await this.redis.zcard(this.options.queues.keyOf(functionName, 'prioritized'))) > 0;
  }

  /** Fetches events as a worker does and fails each one `take` accepts, as the processor would dead-letter it. */
  private async moveOut(
    functionName: string,
    take: (job: Job<EventJobData> | undefined) => boolean,
    hasWork: () => Promise<boolean>,
    failure: { errorType: string; errorMessage: string; reason: DeadLetterReason },
  ): Promise<number> {
    if (!(await hasWork())) return 0;
    const worker = new Worker<EventJobData>(functionQueueName(functionName), null, {
      connection: this.options.queues.connection,
      prefix: this.options.prefix,
      autorun: false,
    });
    worker.on('error', () => undefined);
    let moved = 0;
    try {
      while (moved < this.batch && !this.stopped && (await hasWork())) {
        const token = randomUUID();
        const job = (await worker.getNextJob(token, { block: false })) as Job<EventJobData> | undefined;
        if (!job) {
          // A fetch takes nothing while the queue is held (a full reserved concurrency, an open
          // breaker): wait the hold out, then fetch again.
          const heldMs = await queueHoldRemainingMs(this.options.queues.get(functionName));
          if (heldMs === 0) break;
          await new Promise((resolve) => setTimeout(resolve, Math.min(heldMs, MAX_HOLD_WAIT_MS)));
          continue;
        }
        if (!take(job)) {
          await job.moveToWait(token);
          break;
        }
        const now = Date.now();
        const { errorType, errorMessage, reason } = failure;
        await job.moveToFailed(
          new DeadLetterError({
            attempt: job.attemptsMade + 1,
            startedAt: now,
            finishedAt: now,
            outcome: 'error',
            error: { errorType, errorMessage },
            deadLetterReason: reason,
          }),
          token,
        );
        this.options.onDeadLettered(functionName, job, reason);
        moved += 1;
      }
    } finally {
      await worker.close();
    }
    return moved;
  }

  /** True when a fetch would take an event past its age: the oldest waiting, or a retry due now. */
  private async hasWork(functionName: string, tooOld: (job: Job<EventJobData> | undefined) => boolean): Promise<boolean> {
    const queue = this.options.queues.get(functionName);
    const oldest = await this.redis.lindex(this.options.queues.keyOf(functionName, 'wait'), -1);
    if (oldest !== null) return tooOld((await queue.getJob(oldest)) as Job<EventJobData> | undefined);
    // Nothing waits: a fetch first moves due retries to the queue; their age was checked when
    // they were scheduled, so a due one is taken and checked again.
    const first = await this.redis.zrange(this.options.queues.keyOf(functionName, 'delayed'), 0, 0, 'WITHSCORES');
    return first.length === 2 && Number(first[1]) / DELAYED_SCORE_SHIFT <= Date.now();
  }
}
