import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeZip } from '../../../../test/support/zip-files';
import { LAMBDA_CODE_LIMITS, codeSha256 } from './code-archive';
import { CodeCache } from './code-cache';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-code-cache-'));
let counter = 0;
const freshDirectory = () => path.join(base, `cache${++counter}`, 'code');
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

const zipA = makeZip([{ name: 'index.js', content: 'exports.handler = async () => "a";' }]);
const zipB = makeZip([{ name: 'index.js', content: 'exports.handler = async () => "b";' }]);
const hex = (zip: Buffer) => Buffer.from(codeSha256(zip), 'base64').toString('hex');
const supplier = (zip: Buffer) => jest.fn(async () => zip);

function age(folder: string, ms: number): void {
  const then = new Date(Date.now() - ms);
  fs.utimesSync(folder, then, then);
}

describe('CodeCache', () => {
  it('extracts into <directory>/<hex> once, creating the directory, and reuses it', async () => {
    const directory = freshDirectory();
    const cache = new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS });
    const zip = supplier(zipA);
    const folder = await cache.directoryFor(codeSha256(zipA), zip);
    expect(folder).toBe(path.join(directory, hex(zipA)));
    expect(fs.readFileSync(path.join(folder, 'index.js'), 'utf8')).toContain('"a"');
    await expect(new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS }).directoryFor(codeSha256(zipA), zip)).resolves.toBe(folder);
    expect(zip).toHaveBeenCalledTimes(1);
    expect(fs.readdirSync(directory)).toEqual([hex(zipA)]);
  });

  it('shares one extraction between concurrent calls', async () => {
    const cache = new CodeCache({ directory: freshDirectory(), limits: LAMBDA_CODE_LIMITS });
    const zip = supplier(zipA);
    const folders = await Promise.all([1, 2, 3].map(() => cache.directoryFor(codeSha256(zipA), zip)));
    expect(new Set(folders).size).toBe(1);
    expect(zip).toHaveBeenCalledTimes(1);
  });

  it('refuses code whose hash is not the expected one, caching nothing', async () => {
    const directory = freshDirectory();
    const cache = new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS });
    await expect(cache.directoryFor(codeSha256(zipA), supplier(zipB))).rejects.toThrow(`not the expected ${codeSha256(zipA)}`);
    expect(fs.existsSync(directory) ? fs.readdirSync(directory) : []).toEqual([]);
    // The failure is not remembered: a later call with the right bytes extracts.
    await expect(cache.directoryFor(codeSha256(zipA), supplier(zipA))).resolves.toBe(path.join(directory, hex(zipA)));
  });

  it('leaves no partial folder when the zip is refused', async () => {
    const directory = freshDirectory();
    const bad = makeZip([{ name: '../escape.js', content: 'x' }]);
    await expect(new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS }).directoryFor(codeSha256(bad), supplier(bad))).rejects.toMatchObject({
      kind: 'unsafe-entry',
    });
    expect(fs.readdirSync(directory)).toEqual([]);
  });

  it('uses the folder another process renamed into place first', async () => {
    const directory = freshDirectory();
    fs.mkdirSync(directory, { recursive: true });
    const cache = new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS });
    const theirs = path.join(directory, hex(zipA));
    // The other process finishes while this one is fetching the zip.
    const zip = jest.fn(async () => {
      fs.mkdirSync(theirs);
      fs.writeFileSync(path.join(theirs, 'index.js'), 'theirs');
      return zipA;
    });
    await expect(cache.directoryFor(codeSha256(zipA), zip)).resolves.toBe(theirs);
    expect(fs.readFileSync(path.join(theirs, 'index.js'), 'utf8')).toBe('theirs');
    expect(fs.readdirSync(directory)).toEqual([hex(zipA)]);
  });

  it('prunes unused folders and stale partial ones past the grace, keeping used and recent ones', async () => {
    const directory = freshDirectory();
    const cache = new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS });
    const zipC = makeZip([{ name: 'index.js', content: 'c' }]);
    const [a, b, c] = await Promise.all([zipA, zipB, zipC].map((zip) => cache.directoryFor(codeSha256(zip), supplier(zip))));
    const stalePartial = path.join(directory, `.partial-${hex(zipB)}-0123456789ab`);
    const freshPartial = path.join(directory, `.partial-${hex(zipC)}-ba9876543210`);
    fs.mkdirSync(stalePartial);
    fs.mkdirSync(freshPartial);
    fs.mkdirSync(path.join(directory, 'unrelated'));
    for (const folder of [a!, b!, stalePartial, path.join(directory, 'unrelated')]) age(folder, 120_000);
    // c is unused but recent (within the grace); a is old but in use; b is old and unused.
    await expect(cache.prune(new Set([codeSha256(zipA)]))).resolves.toBe(2);
    expect(fs.readdirSync(directory).sort()).toEqual([freshPartial, a!, c!, path.join(directory, 'unrelated')].map((p) => path.basename(p)).sort());
    for (const folder of [c!, freshPartial]) age(folder, 1000);
    await expect(cache.prune(new Set(), 500)).resolves.toBe(3);
    expect(fs.readdirSync(directory)).toEqual(['unrelated']);
  });

  it('touches a reused folder so that prune grants it the grace again', async () => {
    const directory = freshDirectory();
    const cache = new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS });
    const folder = await cache.directoryFor(codeSha256(zipA), supplier(zipA));
    age(folder, 120_000);
    await cache.directoryFor(codeSha256(zipA), supplier(zipA));
    expect(Date.now() - fs.statSync(folder).mtimeMs).toBeLessThan(60_000);
    await expect(cache.prune(new Set())).resolves.toBe(0);
    expect(fs.existsSync(folder)).toBe(true);
  });

  it('prunes without throwing when the directory or a folder vanished', async () => {
    const directory = freshDirectory();
    const cache = new CodeCache({ directory, limits: LAMBDA_CODE_LIMITS });
    await expect(cache.prune(new Set())).resolves.toBe(0);
    const folder = await cache.directoryFor(codeSha256(zipA), supplier(zipA));
    age(folder, 120_000);
    // Another process prunes it between this one's listing and its removal.
    const lstat = fs.promises.lstat;
    const spy = jest.spyOn(fs.promises, 'lstat').mockImplementation(async (...args: Parameters<typeof lstat>) => {
      fs.rmSync(folder, { recursive: true, force: true });
      return lstat(...args);
    });
    try {
      await expect(cache.prune(new Set())).resolves.toBe(0);
    } finally {
      spy.mockRestore();
    }
    expect(fs.existsSync(folder)).toBe(false);
  });
});
