/**
 * `npm run bench:drain` in miniature: one round of 3,000 jobs for each worker (raw BullMQ, raw
 * BullMQ with invoq's job options, invoq's). It must exit 0 (nothing failed) and report a rate
 * and the CPU a job cost for each. The full rounds are run by hand (docs/benchmarks.md); this
 * guards the script and the drain timing `npm run bench` shares.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../support/harness';

interface Round {
  perSec: number;
  failed: number;
  workerUs: number;
  redisUs: number;
}

it('drains with all three workers, fails nothing and reports each one’s rate and CPU per job', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['bench/worker-drain.mjs'], {
    cwd: REPO_ROOT,
    env: { ...process.env, BENCH_DRAIN_ROUNDS: '1', BENCH_DRAIN_JOBS: '3000' },
    timeout: 90_000,
  });
  const written = /written (bench\/results\/drain-[^\s]+\.json)/.exec(stdout)?.[1];
  expect(written).toBeDefined();
  const file = path.join(REPO_ROOT, written!);
  const { rounds, medianRatio, medianOptionedRatio } = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    rounds: Array<{ raw: Round; optioned: Round; invoq: Round }>;
    medianRatio: number;
    medianOptionedRatio: number;
  };
  fs.rmSync(file);
  expect(rounds).toHaveLength(1);
  for (const side of [rounds[0]!.raw, rounds[0]!.optioned, rounds[0]!.invoq]) {
    expect(side.failed).toBe(0);
    expect(side.perSec).toBeGreaterThan(0);
    expect(side.workerUs).toBeGreaterThan(0);
    expect(side.redisUs).toBeGreaterThanOrEqual(0);
  }
  expect(medianRatio).toBeGreaterThan(0);
  expect(medianOptionedRatio).toBeGreaterThan(0);
}, 120_000);
