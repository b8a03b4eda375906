// What the benchmarks read about the processes they start: memory and CPU from /proc, and
// whether a started service answers yet.
import { readFileSync } from 'node:fs';

/** `pid`'s resident memory now, in whole MB. */
export const rssMb = (pid) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);

/** CPU seconds `pid` has used (user + system; clock ticks of 1/100 s). */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime
}

/** Samples processes' RSS every `everyMs` until stopped; `stop()` returns the peak of each, in MB. */
export function rssPeaks(pids, everyMs = 250) {
  const peaks = pids.map(() => 0);
  const timer = setInterval(() => pids.forEach((pid, i) => (peaks[i] = Math.max(peaks[i], rssMb(pid)))), everyMs);
  return { stop: () => (clearInterval(timer), peaks) };
}

/** Resolves once `url` answers 2xx; throws once `timeoutMs` have gone by without. */
export async function waitUntilReady(url, { what = url, timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await fetch(url).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
