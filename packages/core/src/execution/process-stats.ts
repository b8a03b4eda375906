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
export function residentMemoryMb(pid: number): { peakMb: number; nowMb: number } | undefined {
  const status = readProc(`/proc/${pid}/status`);
  if (!status) return undefined;
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const peak = kb('VmHWM');
  const now = kb('VmRSS');
  if (Number.isNaN(peak) || Number.isNaN(now)) return undefined;
  return { peakMb: Math.ceil(peak / 1024), nowMb: Math.ceil(now / 1024) };
}

/** Nanoseconds `pid`'s main thread has spent on a CPU (`/proc/<pid>/schedstat`, first field). */
export function cpuNanoseconds(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/schedstat`);
  if (!stat) return undefined;
  const ns = Number(stat.split(' ')[0]);
  return Number.isFinite(ns) ? ns : undefined;
}

/** The first child of `parentPid` found (a scan of /proc): the command a sandbox's init runs. */
export function firstChildOf(parentPid: number): number | undefined {
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
