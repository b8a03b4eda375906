import fs from 'node:fs';

/*
 * What Linux tells about a process in /proc, read synchronously (each read is a few µs: these
 * files are generated on read, nothing touches a disk). Elsewhere every reading is undefined.
 */

function readProc(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** `VmHWM` (peak resident set) and `VmRSS` (now) of `pid`, in MB. */
function residentMemoryMb(pid: number): { peakMb: number; nowMb: number } | undefined {
  const status = readProc(`/proc/${pid}/status`);
  if (!status) return undefined;
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const peak = kb('VmHWM');
  const now = kb('VmRSS');
  if (Number.isNaN(peak) || Number.isNaN(now)) return undefined;
  return { peakMb: Math.ceil(peak / 1024), nowMb: Math.ceil(now / 1024) };
}

/** Nanoseconds `pid`'s main thread has spent on a CPU (`/proc/<pid>/schedstat`, first field). */
function cpuNanoseconds(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/schedstat`);
  if (!stat) return undefined;
  const ns = Number(stat.split(' ')[0]);
  return Number.isFinite(ns) ? ns : undefined;
}

/** The first child of `parentPid` found (a scan of /proc): the command a sandbox's init runs. */
function firstChildOf(parentPid: number): number | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readProc(`/proc/${entry}/stat`);
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
    const fields = stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields && Number(fields[1]) === parentPid) return Number(entry);
  }
  return undefined;
}

export interface ProcessBusyMark {
  at: number;
  cpuNs: number | undefined;
}

/**
 * The runtime process of one environment, found and measured through /proc: the spawned child,
 * or inside a sandbox the child of bwrap's init (bwrap → its init, pid 1 inside → the runtime).
 * Only that process is measured, not what it starts.
 */
export class RuntimeProcessMeter {
  private pid: number | undefined;
  private reading: { at: number; memory: { peakMb: number; nowMb: number } } | undefined;

  constructor(
    private readonly childPid: () => number | undefined,
    private readonly sandboxed: boolean,
  ) {}

  /** The runtime's pid once it can be found (a scan of /proc the first time under a sandbox). */
  runtimePid(): number | undefined {
    const child = this.childPid();
    if (this.pid !== undefined || child === undefined) return this.pid;
    if (!this.sandboxed) this.pid = child;
    else {
      const init = firstChildOf(child);
      this.pid = init === undefined ? undefined : firstChildOf(init);
    }
    return this.pid;
  }

  /** The processes likely to hold the environment's Runtime API connection: the runtime itself. */
  runtimeProcesses(): number[] {
    const pid = this.runtimePid();
    return pid === undefined ? [] : [pid];
  }

  /**
   * The runtime's resident memory, read afresh, or the last reading when it is younger than
   * `maxAgeMs`: a REPORT's peak may then lag by that much (VmHWM only grows), which saves a /proc
   * read (~20 µs, measured) on every one of a stream of short runs.
   */
  memory(maxAgeMs = 0): { peakMb: number; nowMb: number } | undefined {
    const now = performance.now();
    if (this.reading && now - this.reading.at < maxAgeMs) return this.reading.memory;
    const pid = this.runtimePid();
    const memory = pid === undefined ? undefined : residentMemoryMb(pid);
    this.reading = memory && { at: now, memory };
    return memory;
  }

  busyMark(): ProcessBusyMark {
    return { at: performance.now(), cpuNs: this.cpuNs() };
  }

  /** Share of wall time since `mark` the runtime spent on a CPU: near 1 computing, near 0 waiting. */
  busySince(mark: ProcessBusyMark, warm: boolean): number {
    const now = this.cpuNs();
    const wallNs = (performance.now() - mark.at) * 1e6;
    // Unmeasurable (not Linux, or not started yet): a warm one counts as waiting, so calls overlap.
    if (now === undefined || mark.cpuNs === undefined || wallNs <= 0) return warm ? 0 : 1;
    return (now - mark.cpuNs) / wallNs;
  }

  private cpuNs(): number | undefined {
    const pid = this.runtimePid();
    return pid === undefined ? undefined : cpuNanoseconds(pid);
  }
}
