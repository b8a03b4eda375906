import { Worker, type Job, type Processor, type WorkerOptions } from 'bullmq';
import type { SlotPool } from './slot-pool';

/** How many more of this queue's events could start at once now (`Executor.roomFor`). */
export type StartRoom = () => number;

/**
 * A BullMQ Worker for one function's queue that takes a job only into a free slot of a pool
 * shared by all functions in this process (INVOQ_WORKER_CONCURRENCY). It waits for a slot
 * *before* fetching, holding no job meanwhile, so another process with free slots can take it.
 *
 * It hooks two methods of BullMQ's Worker (bullmq is pinned to an exact version for this):
 * `moveToActive` (every plain fetch) and `processJob` (whose completion may fetch the next job
 * in the same round trip: the slot then passes to that job unless another function waits).
 *
 * It also fetches an event only when it could start (`startRoom`): an event it holds but cannot
 * start is one an idle worker elsewhere could have run. One event beyond the room may wait, as
 * the executor starts a further environment only for a run that waits for one.
 */
export class FairWorker<Data, Result> extends Worker<Data, Result> {
  /** Tokens whose finishing job handed its slot on to a fetch-next. */
  private readonly slotHandedOn = new Set<string>();
  /** Tokens of jobs fetched by `moveToActive` (each holding a slot) that have not started. */
  private readonly fetchedNotStarted = new Set<string>();
  /** Tokens of fetched jobs whose run has not begun (see `markStarted`). */
  private readonly runNotStarted = new Set<string>();
  private roomWaiters: Array<() => void> = [];

  constructor(
    name: string,
    processor: Processor<Data, Result>,
    options: WorkerOptions,
    private readonly slots: SlotPool,
    private readonly startRoom: StartRoom = () => Infinity,
  ) {
    super(name, processor, options);
  }

  /** The run of the job fetched with `token` has begun (it has its environment). */
  markStarted(token: string | undefined): void {
    if (token !== undefined && this.runNotStarted.delete(token)) this.wakeForRoom();
  }

  /** Room to start runs may have grown: a fetch waiting for it looks again. */
  wakeForRoom(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  override close(force = false): Promise<void> {
    const closing = super.close(force);
    this.wakeForRoom();
    return closing;
  }

  /**
   * BullMQ's loop waits out a queue hold here, and an event handed back with RateLimitError
   * makes it wait the limiter key's TTL (up to a minute of HOLD_ONLY_LIMITER's window). A stop
   * fetches nothing more, so it never waits: it would only hold up the exit.
   */
  override async delay(...args: Parameters<Worker['delay']>): Promise<void> {
    if (this.closing) return;
    return super.delay(...args);
  }

  private hasStartRoom(): boolean {
    return this.runNotStarted.size <= this.startRoom();
  }

  /** Waits until a job fetched now could start; false when it should start what it has (or stop). */
  private async waitForStartRoom(): Promise<boolean> {
    for (;;) {
      if (this.closing) return false;
      if (this.hasStartRoom()) return true;
      // Fetched jobs wait for BullMQ's loop, which is waiting for this fetch: let it go on.
      if (this.fetchedNotStarted.size > 0) return false;
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job<Data, Result>> {
    const handedOn = this.slotHandedOn.delete(token);
    if (!handedOn && !(await this.waitForStartRoom())) {
      return undefined as unknown as Job<Data, Result>;
    }
    if (!handedOn && !this.slots.tryAcquire()) {
      // BullMQ's main loop fetches up to `concurrency` jobs before it starts any of them. Were
      // it to wait here for a slot while jobs it fetched wait for it, and every slot is held by
      // such jobs (two functions with a backlog), nothing would ever run. So it hears "no job"
      // and starts what it has; it waits for a slot only with nothing fetched.
      if (this.fetchedNotStarted.size > 0) return undefined as unknown as Job<Data, Result>;
      await this.slots.acquire(this.name);
      // A stop began while it waited for the slot: fetch nothing more.
      if (this.closing) {
        this.slots.release();
        return undefined as unknown as Job<Data, Result>;
      }
    }
    let job: Job<Data, Result> | undefined;
    try {
      job = await super.moveToActive(token, name);
    } finally {
      if (!job) this.slots.release();
    }
    if (job) this.fetched(token);
    return job as Job<Data, Result>;
  }

  private fetched(token: string): void {
    this.fetchedNotStarted.add(token);
    this.runNotStarted.add(token);
    // A fetch waiting for room must hand over to BullMQ's loop, which starts this job.
    this.wakeForRoom();
  }

  override async processJob(job: Job<Data, Result>, token: string, fetchNextCallback: () => boolean = () => true): Promise<void | Job<Data, Result>> {
    this.fetchedNotStarted.delete(token);
    let handOn = false;
    let next: void | Job<Data, Result> | undefined;
    try {
      next = await super.processJob(job, token, () => {
        // This job's run is over: it no longer counts against the room for the next.
        this.runNotStarted.delete(token);
        handOn = fetchNextCallback() && !this.slots.hasWaitersOtherThan(this.name) && this.hasStartRoom();
        if (handOn) this.slotHandedOn.add(token);
        return handOn;
      });
    } finally {
      // The slot goes on with a fetched next job; otherwise it is freed here, unless a
      // moveToActive call already took it over (and freed it itself if it found nothing).
      const unused = this.slotHandedOn.delete(token);
      if (!handOn || (unused && !next)) this.slots.release();
      this.runNotStarted.delete(token);
      if (next) this.fetched(token);
      else this.wakeForRoom();
    }
    return next;
  }
}
