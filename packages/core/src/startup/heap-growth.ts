import v8 from 'node:v8';
import { isNodeFlagGiven } from './node-flags';

/**
 * How far V8 lets the old generation grow past what the last full GC kept, in percent. Left to
 * itself, V8 picks a factor of up to 4× when allocation is fast: under `npm run bench`'s load the
 * API kept ~25 MB live yet let garbage pile up to ~140 MB between full GCs (RSS 196–239 MB). At
 * 60 % it peaked at 137–154 MB, throughput within noise (`npm run bench:api`); full GCs come
 * more often, and each is short because little is live. A growth factor, not a cap: a heap that
 * holds more (6 MB payloads in flight) still grows to hold it.
 */
const HEAP_GROWING_PERCENT = 60;

const FLAG = '--heap-growing-percent';

/**
 * Sets `HEAP_GROWING_PERCENT` for this process (and the environment threads it starts), unless
 * it was started with a `--heap-growing-percent` of its own, on the command line or in
 * NODE_OPTIONS. V8 reads the flag at each full GC, so setting it at start-up takes effect.
 * Returns whether it set it.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): boolean {
  if (isNodeFlagGiven(FLAG, execArgv, nodeOptions)) return false;
  v8.setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
  return true;
}
