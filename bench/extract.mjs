// `npm run bench:extract`: how long `extractArchive` takes for a package of many small modules
// (440 files of 2–3 KB in node_modules, a 2 MB incompressible blob, index.js): the part of a
// deploy that each process does once per code hash. 12 runs, each into a fresh folder.
import { zipSync } from 'fflate';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { extractArchive, LAMBDA_CODE_LIMITS } = createRequire(import.meta.url)(path.join(root, 'packages/core/dist/index.js'));
const files = {};
for (let p = 0; p < 40; p++)
  for (let f = 0; f < 11; f++)
    files[`node_modules/pkg${p}/lib/file${f}.js`] = [Buffer.from(`module.exports = ${JSON.stringify('x'.repeat(2000 + f * 100))};`), { level: 6 }];
files['blob.bin'] = [randomBytes(2 * 1024 * 1024), { level: 0 }];
files['index.js'] = [Buffer.from('exports.handler = async () => 1;'), { level: 6 }];
const zip = Buffer.from(zipSync(files));
const times = [];
for (let i = 0; i < 12; i++) {
  const dir = mkdtempSync(path.join(tmpdir(), 'xb-'));
  const t = performance.now();
  await extractArchive(zip, path.join(dir, 'out'), LAMBDA_CODE_LIMITS);
  times.push(performance.now() - t);
  rmSync(dir, { recursive: true, force: true });
}
times.sort((a, b) => a - b);
console.log(
  `entries ${Object.keys(files).length}, zip ${zip.length} B: p50 ${times[6].toFixed(0)} ms, min ${times[0].toFixed(0)} ms, max ${times.at(-1).toFixed(0)} ms`,
);
