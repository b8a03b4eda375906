import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT, waitFor } from './harness';

/** `npm start`'s launcher (scripts/start.mjs, on the build), its terminal output recorded. */
export interface Launcher {
  child: ChildProcess;
  /** Its exit code (null if killed by a signal). */
  exited: Promise<number | null>;
  /** What it and the apps (which write to its stdout and stderr) printed so far. */
  output(): string;
  /** Waits for `pattern`; `at` is when the text that completed it arrived (Date.now()). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<{ at: number; match: RegExpExecArray }>;
  /** Ctrl-C, as a terminal sends it; resolves with the exit code. */
  interrupt(): Promise<number | null>;
  /** For afterAll: Ctrl-C, then SIGKILL if it has not exited within `graceMs`. */
  close(graceMs?: number): Promise<void>;
}

/** Starts the launcher with PATH and `env` only, as from a clean shell. */
export function startLauncher(env: Record<string, string>): Launcher {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts/start.mjs')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const arrivals: Array<{ end: number; at: number }> = [];
  const record = (chunk: Buffer) => {
    text += chunk.toString();
    arrivals.push({ end: text.length, at: Date.now() });
  };
  child.stdout!.on('data', record);
  child.stderr!.on('data', record);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const running = () => child.exitCode === null && child.signalCode === null;

  return {
    child,
    exited,
    output: () => text,
    async waitForOutput(pattern, timeoutMs = 20_000) {
      const match = await waitFor(
        () => {
          if (!running() && !pattern.exec(text)) throw new Error(`the launcher exited before printing ${pattern}; it printed:\n${text}`);
          return pattern.exec(text) ?? undefined;
        },
        timeoutMs,
        `${pattern} in the launcher's output`,
      );
      const end = match.index + match[0].length;
      return { at: arrivals.find((a) => a.end >= end)!.at, match };
    },
    async interrupt() {
      if (running()) child.kill('SIGINT');
      return exited;
    },
    async close(graceMs = 20_000) {
      if (!running()) return;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
