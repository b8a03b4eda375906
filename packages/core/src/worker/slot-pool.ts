/**
 * A counting semaphore whose waiters are served round-robin by key (function), so one
 * function's backlog cannot starve another's: each free slot goes to the next function in turn,
 * not to whoever queued first.
 */
export class SlotPool {
  private free: number;
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(readonly capacity: number) {
    this.free = capacity;
  }

  get inUse(): number {
    return this.capacity - this.free;
  }

  /** True when some key other than `key` is waiting for a slot. */
  hasWaitersOtherThan(key: string): boolean {
    for (const [k, list] of this.waiting) if (k !== key && list.length > 0) return true;
    return false;
  }

  /** Takes a slot if one is free and nobody waits for one; never waits. */
  tryAcquire(): boolean {
    if (this.free === 0 || this.waiting.size > 0) return false;
    this.free -= 1;
    return true;
  }

  acquire(key: string): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiting.get(key);
      if (list) list.push(resolve);
      else this.waiting.set(key, [resolve]);
      this.drain();
    });
  }

  release(): void {
    this.free += 1;
    this.drain();
  }

  private drain(): void {
    while (this.free > 0 && this.waiting.size > 0) {
      // Map order is insertion order: take the first key's oldest waiter, then send that key
      // to the back of the rotation.
      const [key, list] = this.waiting.entries().next().value as [string, Array<() => void>];
      const resolve = list.shift()!;
      this.waiting.delete(key);
      if (list.length > 0) this.waiting.set(key, list);
      this.free -= 1;
      resolve();
    }
  }
}
