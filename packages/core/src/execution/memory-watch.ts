/**
 * `memorySize` for what the V8 heap limit does not cover: the memory a thread holds outside its
 * heap (Buffers, ArrayBuffers, typed arrays, WebAssembly memories). Runs in the environment's
 * thread, whose `process.memoryUsage()` counts its own isolate's heap and ArrayBuffers (not the
 * process's: only `rss` there is process-wide, and it is not used).
 *
 * What is counted: heap used + ArrayBuffer memory, against `memorySize`. When it is checked: at
 * every answer, every `FAST_SAMPLE_MS` while a run is in the thread, and every `SLOW_SAMPLE_MS`
 * between runs. What is not: a run computing without a break (a synchronous loop) is checked
 * only when it yields or answers, so it can hold more until then (its timeout still ends it);
 * memory a native addon or Node itself allocates outside ArrayBuffers (zlib, sockets' buffers)
 * is not counted, nor are child processes.
 */
import v8 from 'node:v8';
import { collectGarbage } from './collect-garbage';

const MB = 1_048_576;
const FAST_SAMPLE_MS = 10;
const SLOW_SAMPLE_MS = 1_000;

/** Heap used + ArrayBuffer memory, exact (a few µs: it also reads the process's RSS). */
function measureMb(): number {
  const usage = process.memoryUsage();
  return Math.ceil((usage.heapUsed + usage.arrayBuffers) / MB);
}

export class MemoryWatch {
  private fast: NodeJS.Timeout | undefined;
  /** A run started since the last fast sample: keep sampling fast. */
  private ranSinceSample = false;

  constructor(
    private readonly limitMb: number,
    /** True while a run is in the thread's hands. */
    private readonly inRun: () => boolean,
    /** Ends the environment; called with the MB in use. */
    private readonly onExceeded: (usedMb: number) => void,
  ) {
    setInterval(() => this.check(), SLOW_SAMPLE_MS).unref();
  }

  /** A run starts: sample often until the thread is idle again. */
  runStarted(): void {
    this.ranSinceSample = true;
    this.fast ??= setInterval(() => {
      if (!this.ranSinceSample && !this.inRun()) {
        clearInterval(this.fast);
        this.fast = undefined;
      }
      this.ranSinceSample = false;
      this.check();
    }, FAST_SAMPLE_MS).unref();
  }

  /**
   * At an answer: the memory in use, for REPORT's Max Memory Used, from the one cheap reading a
   * reply already took before this watch existed; it counts freed ArrayBuffers until the next
   * collection, so only a reading over the limit is measured exactly (and may end the thread).
   */
  usedMbAtAnswer(): number {
    const stats = v8.getHeapStatistics();
    const usedMb = Math.ceil((stats.used_heap_size + stats.external_memory) / MB);
    if (usedMb > this.limitMb) this.check();
    return usedMb;
  }

  /**
   * Ends the environment when the memory in use, garbage collected, is over the limit (garbage a
   * collection would free is not "in use", as Lambda's RSS would not count memory the heap let go).
   */
  check(): void {
    if (measureMb() <= this.limitMb) return;
    collectGarbage();
    const usedMb = measureMb();
    if (usedMb > this.limitMb) this.onExceeded(usedMb);
  }
}
