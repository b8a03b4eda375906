import { Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import type { SlotPool } from './slot-pool';

/**
 * A BullMQ Worker for one function's queue that takes a job only into a free slot of a pool
 * shared by all functions in this process (INVOQ_WORKER_CONCURRENCY). It waits for a slot
 * *before* fetching, holding no job meanwhile, so another process with free slots can take it.
 *
 * It hooks two methods of BullMQ's Worker (bullmq is pinned to an exact version for this):
 * `moveToActive` (every plain fetch) and `processJob` (whose completion may fetch the next job
 * in the same round trip: the slot then passes to that job unless another function waits).
 */
export class FairWorker<Data, Result> extends Worker<Data, Result> {
  /** Tokens whose finishing job handed its slot on to a fetch-next. */
  private readonly slotHandedOn = new Set<string>();
  /** Tokens of jobs fetched by `moveToActive` (each holding a slot) that have not started. */
  private readonly fetchedNotStarted = new Set<string>();

  constructor(
    name: string,
    processor: Processor<Data, Result>,
    options: WorkerOptions,
    private readonly slots: SlotPool,
  ) {
    super(name, processor, options);
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job<Data, Result>> {
    if (!this.slotHandedOn.delete(token) && !this.slots.tryAcquire()) {
      // BullMQ's main loop fetches up to `concurrency` jobs before it starts any of them. Were
      // it to wait here for a slot while jobs it fetched wait for it, and every slot is held by
      // such jobs (two functions with a backlog), nothing would ever run. So it hears "no job"
      // and starts what it has; it waits for a slot only with nothing fetched.
      if (this.fetchedNotStarted.size > 0) return undefined as unknown as Job<Data, Result>;
      await this.slots.acquire(this.name);
    }
    let job: Job<Data, Result> | undefined;
    try {
      job = await super.moveToActive(token, name);
    } finally {
      if (!job) this.slots.release();
    }
    if (job) this.fetchedNotStarted.add(token);
    return job as Job<Data, Result>;
  }

  override async processJob(job: Job<Data, Result>, token: string, fetchNextCallback: () => boolean = () => true): Promise<void | Job<Data, Result>> {
    this.fetchedNotStarted.delete(token);
    let handOn = false;
    let next: void | Job<Data, Result> | undefined;
    try {
      next = await super.processJob(job, token, () => {
        handOn = fetchNextCallback() && !this.slots.hasWaitersOtherThan(this.name);
        if (handOn) this.slotHandedOn.add(token);
        return handOn;
      });
    } finally {
      // The slot goes on with a fetched next job; otherwise it is freed here, unless a
      // moveToActive call already took it over (and freed it itself if it found nothing).
      const unused = this.slotHandedOn.delete(token);
      if (!handOn || (unused && !next)) this.slots.release();
    }
    return next;
  }
}
