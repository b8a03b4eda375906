/**
 * What an environment thread does before any function code loads, so that the code cannot speak
 * for the runtime or stop the service: it takes the runtime's channel out of reach, and turns a
 * signal the function sends its own process into the end of its environment alone. These guard
 * against mistakes and casual misuse within one process, not against code set on escaping it
 * (native addons, `child_process`, reading the service's files): see "What a thread contains" in
 * docs/functions.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import threads = require('node:worker_threads');
import { Control, END_SIGNAL, type RuntimeChannel, type ThreadData, type ThreadWorkerData } from './thread-protocol';

// Taken before function code loads: a function that replaces them cannot keep its environment
// alive past an end the runtime decided.
const exitThread = process.exit.bind(process);
const store = Atomics.store;

/**
 * Ends this environment, saying why in `control` first: the main thread reads it once the
 * thread is gone (an exit can overtake messages sent before it; a shared word cannot be late).
 */
export function endEnvironment(control: Int32Array, reason: number, detail: number, exitCode: number): never {
  store(control, Control.END_DETAIL, detail);
  store(control, Control.END_REASON, reason);
  return exitThread(exitCode);
}

/**
 * Takes the runtime's channel out of `workerData` and makes `parentPort` null for every later
 * `require('worker_threads')` and `import` of it (the ES module view is built from the CommonJS
 * exports when first imported, which is after this). Returns the channel and the function data.
 */
export function takeRuntimeChannel(): { channel: RuntimeChannel; data: ThreadData } {
  const workerData = threads.workerData as ThreadWorkerData;
  const channel = workerData.runtime;
  if (!channel) throw new Error('invoq: an environment thread started without its runtime channel');
  delete workerData.runtime;
  try {
    (threads as { parentPort: unknown }).parentPort = null;
  } catch {
    // A Node.js whose exports are read-only keeps parentPort visible; the main thread refuses
    // whatever arrives on it, so this only loses the earlier, clearer TypeError.
  }
  return { channel, data: workerData };
}

/** Signals whose default action is to ignore them: they would not end a Lambda runtime either. */
const IGNORED_BY_DEFAULT = new Set(['SIGCHLD', 'SIGCONT', 'SIGURG', 'SIGWINCH'].map((name) => os.constants.signals[name as keyof typeof os.constants.signals]));

/** This process's group, from `/proc/self/stat` (its fifth field); undefined where unreadable. */
function ownProcessGroup(): number | undefined {
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces; fields after it don't.
    const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    return Number.isInteger(pgrp) && pgrp > 0 ? pgrp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `process.kill(pid, signal)` reaches this process when `pid` is its own, 0 (its group), -1
 * (every process it may signal) or minus its group. Such a signal would stop the whole service
 * (or, in a test, jest), so instead this environment ends as a Lambda runtime killed by it would:
 * `control` says which signal, then the thread exits. Signal 0 (a liveness probe) and signals
 * ignored by default do nothing. `process.kill` sends through `process._kill` (Node's own tests
 * patch it too), so replacing that covers both.
 */
export function containSelfSignals(control: Int32Array): void {
  const proc = process as unknown as { _kill: (pid: number, signal: number) => number };
  const send = proc._kill.bind(process);
  const group = ownProcessGroup();
  const reachesSelf = (pid: number) => pid === process.pid || pid === 0 || pid === -1 || (group !== undefined && pid === -group);
  proc._kill = (pid, signal) => {
    if (!reachesSelf(pid)) return send(pid, signal);
    if (signal === 0 || IGNORED_BY_DEFAULT.has(signal)) return 0;
    return endEnvironment(control, END_SIGNAL, signal, 128 + signal);
  };
}
