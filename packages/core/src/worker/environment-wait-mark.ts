import type { Job } from 'bullmq';
import type { RedisClient } from '../redis/redis-connection';

/**
 * A field of an event's BullMQ job hash, set while a worker holds the event but waits for an
 * execution environment to run it in: status then says `queued`, not `running`. Its value is the
 * `attemptsStarted` of that fetch, so a mark left behind (a worker that died waiting) goes stale
 * by itself when the event is fetched again. Written only for events that wait, never on the
 * path of one that starts at once.
 */
export const ENVIRONMENT_WAIT_FIELD = 'invoqEnvironmentWait';

// Never create the hash: the job may be gone (finished elsewhere after a lost lock).
const SET_IF_EXISTS = "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0";

const jobKey = (job: Job) => `${job.queueQualifiedName}:${job.id}`;

export async function markWaitingForEnvironment(client: RedisClient, job: Job): Promise<void> {
  await client.eval(SET_IF_EXISTS, 1, jobKey(job), ENVIRONMENT_WAIT_FIELD, String(job.attemptsStarted));
}

export async function clearWaitingForEnvironment(client: RedisClient, job: Job): Promise<void> {
  await client.hdel(jobKey(job), ENVIRONMENT_WAIT_FIELD);
}

/** True when the active job's current fetch is waiting for an environment (not yet running). */
export async function isWaitingForEnvironment(client: RedisClient, job: Job): Promise<boolean> {
  return (await client.hget(jobKey(job), ENVIRONMENT_WAIT_FIELD)) === String(job.attemptsStarted);
}

/**
 * The marks of one worker process: an event whose run has waited `afterMs` for an environment
 * is marked (status `queued` meanwhile), and unmarked when its run starts. Shorter waits (a
 * flood of quick runs waits a few ms per event) are not worth two Redis writes each.
 */
export class EnvironmentWaitMarks {
  private readonly pending = new WeakMap<Job, { timer: NodeJS.Timeout; marked: boolean }>();

  constructor(
    private readonly client: RedisClient,
    private readonly afterMs: number,
  ) {}

  /** The event's run waits for an environment. */
  waiting(job: Job): void {
    if (this.pending.has(job)) return;
    const mark = {
      marked: false,
      timer: setTimeout(() => {
        mark.marked = true;
        void markWaitingForEnvironment(this.client, job).catch(() => undefined);
      }, this.afterMs),
    };
    mark.timer.unref();
    this.pending.set(job, mark);
  }

  /** The event's run has its environment and begins. */
  started(job: Job): void {
    const mark = this.pending.get(job);
    if (!mark) return;
    this.pending.delete(job);
    clearTimeout(mark.timer);
    if (mark.marked) void clearWaitingForEnvironment(this.client, job).catch(() => undefined);
  }
}
