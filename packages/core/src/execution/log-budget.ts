import { MAX_LOG_CHARS_PER_RUN, MAX_LOG_LINE_CHARS, MAX_LOG_LINES_PER_RUN } from './thread-protocol';

/**
 * How much one run may log: `MAX_LOG_LINES_PER_RUN` lines of at most `MAX_LOG_LINE_CHARS`,
 * `MAX_LOG_CHARS_PER_RUN` in all. The thread applies it as lines are written (so nothing more
 * crosses to the main thread) and the main thread again as they arrive (whoever sent them), so
 * a function cannot fill the service's memory or its log with one run's output.
 */
export class LogBudget {
  private lines = 0;
  private chars = 0;
  private spent = false;

  /** A new run starts. */
  reset(): void {
    this.lines = 0;
    this.chars = 0;
    this.spent = false;
  }

  /**
   * The line to keep (cut to `MAX_LOG_LINE_CHARS`), or undefined once the run's budget is spent;
   * the first line past it becomes one notice in its place.
   */
  admit(line: string, requestId: string | undefined): string | undefined {
    if (this.spent) return undefined;
    const kept = line.length > MAX_LOG_LINE_CHARS ? `${line.slice(0, MAX_LOG_LINE_CHARS)}… (line cut at ${MAX_LOG_LINE_CHARS} characters)` : line;
    if (this.lines + 1 > MAX_LOG_LINES_PER_RUN || this.chars + kept.length > MAX_LOG_CHARS_PER_RUN) {
      this.spent = true;
      return `${new Date().toISOString()}\t${requestId ?? 'undefined'}\tWARN\tinvoq: more than ${MAX_LOG_LINES_PER_RUN} log lines or ${MAX_LOG_CHARS_PER_RUN} characters in one run; the rest are dropped`;
    }
    this.lines += 1;
    this.chars += kept.length;
    return kept;
  }
}

/**
 * The log lines an environment collects for its current run, within one run's `LogBudget`.
 * Lines written between runs (a late timer) go to the next run, as in Lambda.
 */
export class RunLogs {
  private lines: string[] = [];
  private readonly budget = new LogBudget();

  add(line: string, requestId: string | undefined): void {
    const kept = this.budget.admit(line, requestId);
    if (kept !== undefined) this.lines.push(kept);
  }

  /** The run ended: its lines, and a fresh budget for the next. */
  take(): string[] {
    const lines = this.lines;
    this.lines = [];
    this.budget.reset();
    return lines;
  }
}
