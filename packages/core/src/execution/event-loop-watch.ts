/**
 * "The event loop is empty", as an environment thread can tell it. Lambda's Node.js runtime
 * answers some invocations from its `beforeExit` hook, which Node fires when nothing keeps the
 * loop alive. A thread never gets there (its port to the main thread keeps it alive), so here
 * empty means: nothing is active beyond what the thread itself held before any function code
 * ran, as `process.getActiveResourcesInfo()` lists it. That list counts what `beforeExit`
 * counts: ref'd handles, requests and timers; an unref'd timer or an idle keep-alive socket
 * (Node's agents unref them) does not keep it busy, here or in Lambda.
 */
let runtimeResources: ReadonlyMap<string, number> = new Map();

function countByType(resources: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of resources) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Call once at thread start, before loading any function code: what the runtime itself holds. */
export function recordRuntimeResources(): void {
  runtimeResources = countByType(process.getActiveResourcesInfo());
}

export function isEventLoopEmpty(): boolean {
  const active = process.getActiveResourcesInfo();
  if (active.length === 0) return true;
  for (const [type, count] of countByType(active)) {
    if (count > (runtimeResources.get(type) ?? 0)) return false;
  }
  return true;
}

/** Longest pause between two checks while waiting; the first checks come sooner. */
const MAX_CHECK_INTERVAL_MS = 8;

/**
 * Calls `onEmpty` once the event loop is empty, checking first after the current turn's I/O
 * (`setImmediate`), then every 1, 2, 4 … 8 ms. The timers are unref'd, so the watch itself
 * keeps nothing alive. Returns a function that cancels the watch.
 */
export function whenEventLoopEmpty(onEmpty: () => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  let cancelled = false;
  let intervalMs = 1;
  const check = () => {
    immediate = undefined;
    if (cancelled) return;
    if (isEventLoopEmpty()) {
      cancelled = true;
      onEmpty();
      return;
    }
    timer = setTimeout(check, intervalMs).unref();
    intervalMs = Math.min(intervalMs * 2, MAX_CHECK_INTERVAL_MS);
  };
  immediate = setImmediate(check);
  return () => {
    cancelled = true;
    if (immediate) clearImmediate(immediate);
    if (timer) clearTimeout(timer);
  };
}
