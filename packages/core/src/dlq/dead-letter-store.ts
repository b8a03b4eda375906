import type { Job } from 'bullmq';
import type { RedisClient } from '../redis/redis-connection';
import type { DeadLetterReason } from '../policy/retry-policy';
import { deadLetterReasonOf } from '../queue/attempt-record';
import type { EventQueues } from '../queue/event-queues';
import { currentRecords, type InvocationStatusReader } from '../status/invocation-status';
import { isEventJobData, type EventJobData, type RedriveRecord } from '../queue/job-data';
import type { SnapshotEntry } from './redrive-store';

/** A dead-lettered event as the API shows it. */
export interface DeadLetterEntry {
  requestId: string;
  functionName: string;
  payload: unknown;
  error: { errorType: string; errorMessage: string };
  attempts: number;
  reason: DeadLetterReason;
  receivedAt: string;
  failedAt: string;
  redrives?: RedriveRecord[];
}

export interface DeadLetterPage {
  items: DeadLetterEntry[];
  nextCursor: string | null;
}

/** Newest first; ties on the millisecond broken by request id, so pages never skip or repeat. */
interface Position {
  t: number;
  id: string;
}
const before = (a: Position, b: Position) => a.t < b.t || (a.t === b.t && a.id < b.id);

function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify(p)).toString('base64url');
}

function decodeCursor(cursor: string): Position | undefined {
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as Position;
    return typeof p.t === 'number' && typeof p.id === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The dead-letter queue is each function's BullMQ `failed` set: the one place a job lands
 * atomically, in the same script as its last failed attempt, so no crash can lose it between
 * "failed" and "dead-lettered". Entries stay for INVOQ_DLQ_RETENTION_SECONDS or until deleted
 * or redriven.
 */
export class DeadLetterStore {
  constructor(
    private readonly queues: EventQueues,
    private readonly functionNames: () => string[],
    private readonly finder: InvocationStatusReader,
  ) {}

  private get redis(): RedisClient {
    return this.queues.connection as RedisClient;
  }

  /** One page, newest first, across all functions or one. `cursor` comes from the last page. */
  async list(options: { functionName?: string; limit?: number; cursor?: string } = {}): Promise<DeadLetterPage> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    const after = options.cursor === undefined ? undefined : decodeCursor(options.cursor);
    if (options.cursor !== undefined && !after) throw new Error('invalid cursor');
    const names = options.functionName ? [options.functionName] : this.functionNames();
    // Read each function's failed set from the cursor's time down; the few extra rows cover
    // entries that share the cursor's millisecond.
    const perFunction = await Promise.all(
      names.map(async (name) => {
        const raw = await this.redis.zrevrangebyscore(
          this.queues.keyOf(name, 'failed'),
          after ? after.t : '+inf',
          '-inf',
          'WITHSCORES',
          'LIMIT',
          0,
          limit + 50,
        );
        const rows: Array<Position & { name: string }> = [];
        for (let i = 0; i < raw.length; i += 2) rows.push({ name, id: raw[i]!, t: Number(raw[i + 1]) });
        return rows;
      }),
    );
    const rows = perFunction
      .flat()
      .filter((row) => !after || before(row, after))
      .sort((a, b) => (before(a, b) ? 1 : before(b, a) ? -1 : 0));
    const page = rows.slice(0, limit);
    const jobs = await Promise.all(page.map((row) => this.queues.get(row.name).getJob(row.id) as Promise<Job<EventJobData> | undefined>));
    const items = jobs.flatMap((job, i) => (job ? [toEntry(page[i]!.name, job)] : []));
    const last = page.at(-1);
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  async get(requestId: string): Promise<DeadLetterEntry | undefined> {
    const found = await this.findDeadLettered(requestId);
    return found && toEntry(found.functionName, found.job);
  }

  /**
   * Runs a dead-lettered event again with fresh attempts, keeping its dead-letter past in
   * `redrives`. Safe to repeat: an event no longer in the DLQ is left alone (false).
   */
  async redrive(requestId: string): Promise<boolean> {
    const found = await this.findDeadLettered(requestId);
    return found ? this.redriveJob(found.functionName, found.job) : false;
  }

  /**
   * Redrives one entry of a bulk redrive's snapshot, at most once however often it is called
   * for it (a process that died part-way, one that took over). The entry is redriven only if
   * the failure the snapshot saw is still there (same failed-set score): deleted, redriven singly
   * or dead-lettered anew since, it is skipped. The `redriveId` in its redrive record tells a
   * repeat that this redrive already handled it.
   */
  async redriveSnapshotEntry(functionName: string, entry: SnapshotEntry, redriveId: string): Promise<'moved' | 'skipped'> {
    const [job, score] = await Promise.all([
      this.queues.get(functionName).getJob(entry.id) as Promise<Job<EventJobData> | undefined>,
      this.redis.zscore(this.queues.keyOf(functionName, 'failed'), entry.id),
    ]);
    if (!job || !isEventJobData(job.data)) return 'skipped';
    const sameFailure = score !== null && Number(score) === entry.score;
    if (job.data.redrives?.some((r) => r.redriveId === redriveId)) {
      // Handled before: moved already, or stopped between its record and the move.
      return !sameFailure || (await this.moveBack(functionName, job)) ? 'moved' : 'skipped';
    }
    if (!sameFailure) return 'skipped';
    return (await this.redriveJob(functionName, job, redriveId)) ? 'moved' : 'skipped';
  }

  async delete(requestId: string): Promise<boolean> {
    const found = await this.findDeadLettered(requestId);
    if (!found) return false;
    await found.job.remove();
    return true;
  }

  private async findDeadLettered(requestId: string): Promise<{ functionName: string; job: Job<EventJobData> } | undefined> {
    const found = await this.finder.find(requestId);
    if (!found || !(await found.job.isFailed())) return undefined;
    // Read it again now that it is known to be failed: the first read may predate its last
    // attempt's record.
    const job = (await this.queues.get(found.functionName).getJob(requestId)) as Job<EventJobData> | undefined;
    return job && { functionName: found.functionName, job };
  }

  private async redriveJob(functionName: string, job: Job<EventJobData>, redriveId?: string): Promise<boolean> {
    if (!isEventJobData(job.data)) return false;
    const entry = toEntry(functionName, job);
    const past: RedriveRecord = {
      redrivenAt: Date.now(),
      deadLetteredAt: Date.parse(entry.failedAt),
      reason: entry.reason,
      attempts: entry.attempts,
      error: entry.error,
    };
    if (redriveId) past.redriveId = redriveId;
    // The past first: if we stop between the two steps, the entry is still in the DLQ with one
    // extra history row, and a repeat redrive finishes the job.
    await job.updateData({ ...job.data, redrives: [...(job.data.redrives ?? []), past] });
    return this.moveBack(functionName, job);
  }

  /** Back to the end of the function's wait list, behind every live event already waiting. */
  private async moveBack(functionName: string, job: Job<EventJobData>): Promise<boolean> {
    try {
      // Stalled-count fields would fail a WorkerLost event again at once: clear them.
      await this.redis.hdel(this.queues.keyOf(functionName, job.id!), 'stc', 'defa');
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return true;
    } catch {
      return false; // no longer in the failed set: redriven or deleted meanwhile
    }
  }
}

export function toEntry(functionName: string, job: Job<EventJobData>): DeadLetterEntry {
  const records = currentRecords(job);
  const last = records.at(-1);
  const data = isEventJobData(job.data) ? job.data : undefined;
  let payload: unknown = null;
  if (data) {
    try {
      payload = data.payload.length === 0 ? {} : JSON.parse(data.payload);
    } catch {
      payload = data.payload;
    }
  }
  const entry: DeadLetterEntry = {
    requestId: job.id ?? '',
    functionName,
    payload,
    error: last?.error ?? { errorType: 'Error', errorMessage: job.failedReason ?? '' },
    attempts: job.attemptsMade,
    reason: deadLetterReasonOf(records, job.failedReason),
    receivedAt: new Date(data?.receivedAt ?? job.timestamp).toISOString(),
    failedAt: new Date(job.finishedOn ?? job.timestamp).toISOString(),
  };
  if (data?.redrives?.length) entry.redrives = data.redrives;
  return entry;
}
