import type { Job } from 'bullmq';
import type { EventJobData } from './job-data';

/**
 * Payloads up to this size stay in a succeeded event's job; bigger ones are dropped. The job is
 * kept for INVOQ_STATUS_RETENTION_SECONDS only so `/invocations/{id}` can answer, and an hour of
 * 256 KB events would otherwise fill Redis. Small payloads are not worth the extra write.
 */
export const KEPT_FINISHED_PAYLOAD_BYTES = 1024;

/**
 * Drops a succeeded event's payload from its job (one write, only for payloads over
 * KEPT_FINISHED_PAYLOAD_BYTES). Failed events keep theirs: the DLQ redrives them. A job already
 * removed is left alone.
 */
export async function dropFinishedPayload(job: Job<EventJobData>): Promise<void> {
  const bytes = Buffer.byteLength(job.data.payload);
  if (bytes <= KEPT_FINISHED_PAYLOAD_BYTES) return;
  await job.updateData({ ...job.data, payload: '', payloadDropped: bytes }).catch(() => undefined);
}
