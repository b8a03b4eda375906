import type { Job } from 'bullmq';
import type { RedisClient } from './redis-connection';

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
