/**
 * After a Redis error, a BullMQ worker waits this long before it fetches again (BullMQ's default
 * is 15 s). Kept short so work resumes soon after an outage, and because BullMQ's close() cannot
 * cut that wait short: a worker stopped during an outage would otherwise take up to 15 s.
 */
export const RUN_RETRY_DELAY_MS = 1000;
