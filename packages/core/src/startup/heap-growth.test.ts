import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { limitHeapGrowth, settleHeapLimit } from './heap-growth';

describe('limitHeapGrowth', () => {
  it('sets the growth factor when the process was given none', () => {
    expect(limitHeapGrowth(['--enable-source-maps'], '--max-old-space-size=512')).toBe(true);
  });

  it("leaves an operator's own --heap-growing-percent alone, on the command line or in NODE_OPTIONS", () => {
    expect(limitHeapGrowth(['--heap-growing-percent=200'], '')).toBe(false);
    expect(limitHeapGrowth([], '--inspect --heap-growing-percent=20')).toBe(false);
    expect(limitHeapGrowth(['--heap-growing-percent', '20'], '')).toBe(false);
  });

  it('does not mistake a longer flag for it', () => {
    expect(limitHeapGrowth(['--heap-growing-percentage=5'], '')).toBe(true);
  });
});

describe('settleHeapLimit', () => {
  it('runs one full (mark-compact) collection of the heap', async () => {
    const majors: number[] = [];
    const observer = new PerformanceObserver((list) => {
      // A gc entry's `detail` says which kind of collection it was.
      for (const entry of list.getEntries() as Array<PerformanceEntry & { detail?: { kind?: number } }>)
        if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors.push(entry.duration);
    });
    observer.observe({ entryTypes: ['gc'] });
    try {
      settleHeapLimit();
      // GC entries are delivered asynchronously, after the collection.
      const deadline = Date.now() + 2000;
      while (majors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      observer.disconnect();
    }
    expect(majors.length).toBeGreaterThanOrEqual(1);
  });
});
