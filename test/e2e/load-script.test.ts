/**
 * `npm run load` in miniature: its own Redis, API and worker, 3 s at 40 req/s. It must exit 0
 * (no error, no lost event) and report what it measured. The full soak is run by hand (docs/benchmarks.md).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/harness';

it('runs a bounded load, loses nothing and reports memory over time', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['bench/load.mjs', '--own', '--duration', '3', '--rate', '40', '--sample', '1'], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent' },
    timeout: 90_000,
  });
  const written = /written (bench\/results\/load-[^\s]+\.json)/.exec(stdout)?.[1];
  expect(written).toBeDefined();
  const file = path.join(REPO_ROOT, written!);
  const { summary, samples } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    summary: { errors: number; eventsAccepted: number; eventsFinished: number; eventsLost: number; memoryMb: { apiRss: { start: number } } };
    samples: Array<{ reqPerSec: number; workerHeapMb: number }>;
  };
  fs.rmSync(file);
  expect(summary.errors).toBe(0);
  expect(summary.eventsAccepted).toBeGreaterThan(30);
  expect(summary.eventsFinished).toBe(summary.eventsAccepted);
  expect(summary.eventsLost).toBe(0);
  expect(summary.memoryMb.apiRss.start).toBeGreaterThan(0);
  expect(samples.length).toBeGreaterThanOrEqual(3);
  expect(samples.every((s) => s.workerHeapMb > 0)).toBe(true);
}, 120_000);
