/**
 * A worker facing a full Redis: OOM refusals recognised (plain and from a script), each one
 * counted and holding the worker's fetching for 500 ms doubling to 5 s (through BullMQ's own
 * local rate-limit wait, checked on a real Worker), one log line when it starts, one summary with
 * the count per interval, not ready until Redis takes a write or the refusals stop.
 */
import { Worker } from 'bullmq';
import pino from 'pino';
import { testRedisUrl, uniquePrefix } from '../../../../test/support/harness';
import { closeRedis, createRedisConnection } from './redis-connection';
import { RedisOomBackoff, isRedisOomError } from './redis-oom-backoff';

const OOM = "OOM command not allowed when used memory > 'maxmemory'.";

it.each([
  [new Error(OOM), true],
  [new Error(`${OOM} script: d96ca626f1ea141b44a856b312fc636d99aa9ea9, on @user_script:217.`), true],
  [new Error('ERR Error running script: OOM command not allowed when used memory > maxmemory'), true],
  [new Error('Connection is closed.'), false],
  [new Error('NOSCRIPT No matching script'), false],
  [OOM, false],
  [undefined, false],
])('isRedisOomError(%p) is %p', (error, expected) => {
  expect(isRedisOomError(error)).toBe(expected);
});

describe('RedisOomBackoff', () => {
  let lines: Array<{ msg: string; refused?: number; refusedTotal?: number }>;
  let counted: number;
  let backoff: RedisOomBackoff;
  /** Stands in for BullMQ's Worker, whose only part used here is its local rate-limit deadline. */
  const worker = () => ({ limitUntil: 0 });
  const handle = (w: { limitUntil: number }, error: unknown) => backoff.handleWorkerError(w as unknown as Worker, error);

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    lines = [];
    counted = 0;
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    backoff = new RedisOomBackoff({ logger, onOomError: () => (counted += 1), logIntervalMs: 10_000 });
  });
  afterEach(() => {
    backoff.close();
    jest.useRealTimers();
  });

  it('ignores other errors', () => {
    const w = worker();
    expect(handle(w, new Error('ERR wrong number of arguments'))).toBe(false);
    expect(w.limitUntil).toBe(0);
    expect(counted).toBe(0);
    expect(backoff.notReadyReason()).toBeUndefined();
    expect(lines).toEqual([]);
  });

  it('holds fetching 500 ms doubling to 5 s, counting each refusal, logging once', () => {
    const w = worker();
    const holds: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      expect(handle(w, new Error(OOM))).toBe(true);
      holds.push(w.limitUntil - Date.now());
      jest.advanceTimersByTime(w.limitUntil - Date.now());
    }
    expect(holds).toEqual([500, 1000, 2000, 4000, 5000, 5000, 5000]);
    expect(counted).toBe(7);
    // One line when it started, one summary per 10 s interval with the count (22.5 s have passed).
    expect(lines.map((l) => l.msg)).toEqual([
      expect.stringMatching(/^Redis refuses writes: out of memory/),
      'Redis still out of memory: commands refused in the last interval',
      'Redis still out of memory: commands refused in the last interval',
    ]);
    expect(lines.slice(1).map((l) => l.refused)).toEqual([4, 2]);
    expect(backoff.notReadyReason()).toMatch(/^redis out of memory: 7 commands refused since /);
  });

  it('is ready again, and logs it, once Redis takes a write; the next episode starts at 500 ms again', () => {
    const w = worker();
    handle(w, new Error(OOM));
    handle(w, new Error(OOM));
    expect(backoff.notReadyReason()).toBeDefined();
    backoff.markWritable();
    expect(backoff.notReadyReason()).toBeUndefined();
    expect(lines.at(-1)).toMatchObject({ msg: 'Redis accepts writes again', refusedTotal: 2 });
    jest.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
    handle(w, new Error(OOM));
    expect(w.limitUntil - Date.now()).toBe(500);
    // markWritable outside an episode (every event that moves calls it) logs nothing.
    backoff.markWritable();
    backoff.markWritable();
    expect(lines.filter((l) => l.msg === 'Redis accepts writes again')).toHaveLength(2);
  });

  it('is ready again when no refusal has come for two longest holds (nothing left to fetch)', () => {
    handle(worker(), new Error(OOM));
    jest.advanceTimersByTime(9_000);
    expect(backoff.notReadyReason()).toBeDefined();
    jest.advanceTimersByTime(2_000);
    expect(backoff.notReadyReason()).toBeUndefined();
    expect(lines.at(-1)).toMatchObject({ msg: 'Redis accepts writes again' });
  });

  it('never shortens a longer hold already set', () => {
    const w = worker();
    w.limitUntil = Date.now() + 30_000;
    handle(w, new Error(OOM));
    expect(w.limitUntil - Date.now()).toBe(30_000);
  });
});

it("holds a real BullMQ Worker's fetching through its own rate-limit wait", async () => {
  const connection = createRedisConnection(testRedisUrl());
  const worker = new Worker(uniquePrefix('oom-backoff'), async () => undefined, { connection, prefix: uniquePrefix('oom'), autorun: false });
  worker.on('error', () => undefined);
  const backoff = new RedisOomBackoff({ logger: pino({ level: 'silent' }) });
  try {
    const internals = worker as unknown as { isRateLimited(): boolean };
    expect(internals.isRateLimited()).toBe(false);
    backoff.handleWorkerError(worker, new Error(OOM));
    expect(internals.isRateLimited()).toBe(true);
  } finally {
    backoff.close();
    await worker.close();
    await closeRedis(connection);
  }
});
