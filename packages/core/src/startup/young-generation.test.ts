import { spawnSync } from 'node:child_process';
import { serviceNodeFlags } from './young-generation';

/** The new space a Node.js process started with `flags` has grown to after a burst of short-lived garbage, in MB. */
function newSpaceMbAfterGarbage(flags: string[]): number {
  const script = `let kept = [];
for (let i = 0; i < 3e6; i++) { kept.push({ i, s: 'x' + i }); if (kept.length > 20000) kept = []; }
const space = require('node:v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
process.stdout.write(String(space.space_size / 1048576));`;
  const run = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  expect(run.stderr).toBe('');
  return Number(run.stdout);
}

describe('serviceNodeFlags', () => {
  it('caps the young generation, unless NODE_OPTIONS sets a cap of its own', () => {
    expect(serviceNodeFlags('')).toEqual(['--max-semi-space-size=8']);
    expect(serviceNodeFlags('--max-old-space-size=512')).toEqual(['--max-semi-space-size=8']);
    expect(serviceNodeFlags('--inspect --max-semi-space-size=32')).toEqual([]);
  });

  it('keeps a process’s new space to 16 MB, where V8 alone lets it grow past that', () => {
    expect(newSpaceMbAfterGarbage(serviceNodeFlags(''))).toBeLessThanOrEqual(16);
    expect(newSpaceMbAfterGarbage([])).toBeGreaterThan(16);
  });
});
