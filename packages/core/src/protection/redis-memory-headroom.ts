import { Cluster } from 'ioredis';
import { InvoqError } from '../errors';
import type { RedisClient } from '../redis/redis-connection';

/** What one Redis node says about its memory (`INFO memory`). */
export interface RedisMemoryReading {
  /** What Redis compares with `maxmemory`: `used_memory` less replica and AOF buffers. */
  usedBytes: number;
  /** `maxmemory`; 0 means unlimited. */
  maxBytes: number;
}

/**
 * Reads `INFO memory`'s text. Redis refuses writes (`noeviction`) once `used_memory` less
 * `mem_not_counted_for_evict` passes `maxmemory`, so that is the figure compared here.
 * Undefined when the text has no `used_memory` or `maxmemory` (not Redis, or INFO renamed).
 */
export function parseMemoryInfo(info: string): RedisMemoryReading | undefined {
  const field = (name: string) => {
    const match = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info);
    return match ? Number(match[1]) : undefined;
  };
  const used = field('used_memory');
  const max = field('maxmemory');
  if (used === undefined || max === undefined) return undefined;
  return { usedBytes: Math.max(0, used - (field('mem_not_counted_for_evict') ?? 0)), maxBytes: max };
}

/**
 * What one accepted event adds to Redis before the next reading, estimated from its payload:
 * measured here, a queued event took 1.3 KB with an 18-byte payload and 11 KB with 8 KB
 * (jemalloc's size classes round a value up by up to a quarter).
 */
export function estimatedEventBytes(payloadBytes: number): number {
  return Math.ceil(payloadBytes * 1.25) + 1536;
}

export interface RedisMemoryHeadroomOptions {
  /** INVOQ_MAX_REDIS_MEMORY_PERCENT: `Event` is refused from this share of `maxmemory` on. */
  maxPercent: number;
  /** How old a reading may be before `admit` asks for a new one (default 250 ms). */
  refreshMs?: number;
  /** Called with used / max (0 when unlimited) after every reading: the gauge. */
  onReading?: (usedRatio: number) => void;
}

/**
 * The byte budget of the queue: `Event` is refused once Redis's memory passes
 * `maxPercent` of its `maxmemory`, so what is left stays for the workers to move, finish and
 * record the events already accepted (with `noeviction`, a full Redis refuses those writes too,
 * and the backlog is stranded). It counts what really fills Redis (payloads, statuses, DLQ
 * entries, results) with no bookkeeping of its own that a crash could leave wrong. As
 * QueuedEventsCap does, it reads Redis in the background, at most every `refreshMs`, never on the
 * request's path, and adds what this process accepted since. A Redis without `maxmemory` has no
 * budget: only INVOQ_MAX_QUEUED_EVENTS applies then. On a Cluster, the fullest master counts.
 */
export class RedisMemoryHeadroom {
  private reading: RedisMemoryReading | undefined;
  private acceptedBytesSinceRead = 0;
  private readAt = 0;
  private inFlight: Promise<void> | undefined;
  private readonly refreshMs: number;

  constructor(
    private readonly connection: RedisClient,
    private readonly options: RedisMemoryHeadroomOptions,
  ) {
    this.refreshMs = options.refreshMs ?? 250;
  }

  /** The last reading (undefined before the first, or when INFO cannot be read). */
  get lastReading(): RedisMemoryReading | undefined {
    return this.reading;
  }

  /**
   * Throws `TooManyRequestsException` (Reason `RedisMemoryLimitExceeded`) when Redis's memory
   * has reached the limit; otherwise counts an event of `payloadBytes` more.
   */
  admit(payloadBytes: number): void {
    if (Date.now() - this.readAt > this.refreshMs) void this.refresh();
    const reading = this.reading;
    if (reading && reading.maxBytes > 0) {
      const limitBytes = (reading.maxBytes * this.options.maxPercent) / 100;
      const usedBytes = reading.usedBytes + this.acceptedBytesSinceRead;
      if (usedBytes >= limitBytes) {
        const percent = Math.floor((usedBytes / reading.maxBytes) * 100);
        // Retry-After 5, not the queue cap's 1: memory frees only as workers finish events.
        throw new InvoqError(
          'THROTTLED',
          `The event queue's Redis is at ${percent}% of its maxmemory (events are refused from ${this.options.maxPercent}%, so that queued ones can finish); retry later.`,
          { reason: 'RedisMemoryLimitExceeded', retryAfterSeconds: 5 },
        );
      }
    }
    this.acceptedBytesSinceRead += estimatedEventBytes(payloadBytes);
  }

  /** Reads Redis's memory now (also done in the background by `admit`). */
  refresh(): Promise<void> {
    this.inFlight ??= this.read().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async read(): Promise<void> {
    // Bytes admitted from here on may or may not be in what Redis answers; keep counting them.
    const admittedBefore = this.acceptedBytesSinceRead;
    try {
      const nodes = this.connection instanceof Cluster ? this.connection.nodes('master') : [this.connection];
      const readings = (await Promise.all(nodes.map(async (node) => parseMemoryInfo(await node.info('memory'))))).filter((r) => r !== undefined);
      if (readings.length === 0) return;
      this.reading = readings.reduce((fullest, r) => (ratioOf(r) > ratioOf(fullest) ? r : fullest));
      this.acceptedBytesSinceRead -= admittedBefore;
      this.options.onReading?.(ratioOf(this.reading));
    } catch {
      // Redis away: keep the last reading; the enqueue itself will answer 503.
    } finally {
      // Also after a failure: a Redis that refuses INFO (renamed on a managed service) must not
      // be asked once per request.
      this.readAt = Date.now();
    }
  }
}

function ratioOf(reading: RedisMemoryReading): number {
  return reading.maxBytes > 0 ? reading.usedBytes / reading.maxBytes : 0;
}
