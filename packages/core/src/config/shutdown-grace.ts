/**
 * How long each part waits when told to stop, so that each bound follows from the one inside it.
 * A worker lets running events finish for WORKER_SHUTDOWN_GRACE_MS, then hands them back (they
 * re-run elsewhere); an API lets answers in flight finish for API_SHUTDOWN_GRACE_MS; whatever
 * stops them (npm start, Compose's `stop_grace_period`, a Kubernetes grace period) waits
 * PROCESS_STOP_GRACE_MS before it kills, so that the worker's own grace always runs out first.
 */
export const WORKER_SHUTDOWN_GRACE_MS = 25_000;
export const API_SHUTDOWN_GRACE_MS = 10_000;
export const PROCESS_STOP_GRACE_MS = WORKER_SHUTDOWN_GRACE_MS + 5_000;
