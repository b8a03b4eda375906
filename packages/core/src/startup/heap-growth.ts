import v8 from 'node:v8';
import { collectGarbage } from '../execution/collect-garbage';
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

/**
 * One full garbage collection, for a tier that has started and holds what it holds at rest. V8
 * starts a heap with a large old-generation limit, and the growth factor above applies only from
 * the first full collection on: under load the API's old generation grew to 52–55 MB before
 * that first collection and was held at 39–49 MB after it. Collecting once at start sets the
 * limit from what is live then: peak RSS under 8 s of sync load 134–136 against 147–163 MB
 * (`npm run bench:api`, three alternating pairs). It takes about 20 ms (the API), once.
 */
export function settleHeapLimit(): void {
  collectGarbage();
}
