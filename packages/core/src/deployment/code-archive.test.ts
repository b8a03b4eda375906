import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeZip } from '../../../../test/support/zip-files';
import { CodeArchiveError, LAMBDA_CODE_LIMITS, codeSha256, extractArchive, type CodeLimits } from './code-archive';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-archive-'));
let counter = 0;
const freshTarget = () => path.join(base, `t${++counter}`, 'code');
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

async function refusal(zip: Buffer, target = freshTarget(), limits: CodeLimits = LAMBDA_CODE_LIMITS): Promise<CodeArchiveError> {
  const error = await extractArchive(zip, target, limits).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CodeArchiveError);
  // Nothing half-extracted is left behind.
  expect(fs.existsSync(target)).toBe(false);
  return error as CodeArchiveError;
}

/** Rewrites a 32-bit field of every local (at `localOffset`) and central (at `centralOffset`) header. */
function patchHeaders(zip: Buffer, localOffset: number, centralOffset: number, value: number, width: 2 | 4 = 4): Buffer {
  const patched = Buffer.from(zip);
  for (let at = 0; at < patched.length - 4; at++) {
    const signature = patched.readUInt32LE(at);
    const offset = signature === 0x04034b50 ? localOffset : signature === 0x02014b50 ? centralOffset : undefined;
    if (offset === undefined) continue;
    if (width === 4) patched.writeUInt32LE(value, at + offset);
    else patched.writeUInt16LE(patched.readUInt16LE(at + offset) | value, at + offset);
  }
  return patched;
}

describe('codeSha256', () => {
  it('is the base64 SHA-256 Lambda reports', () => {
    expect(codeSha256(Buffer.from('abc'))).toBe('ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=');
  });
});

describe('extractArchive', () => {
  it('extracts a realistic tree of deflated and stored entries', async () => {
    const target = freshTarget();
    const pkg = JSON.stringify({ name: 'dep', main: 'index.js' });
    const zip = makeZip([
      { name: 'index.js', content: 'exports.handler = async () => require("dep");', mode: 0o644 },
      { name: 'node_modules/dep/index.js', content: 'module.exports = 42;'.repeat(100), mode: 0o644 },
      { name: 'node_modules/dep/package.json', content: pkg, mode: 0o644, level: 0 },
      { name: 'data/', directory: true },
      { name: 'data/file.json', content: '{"a":1}', level: 0 },
    ]);
    await expect(extractArchive(zip, target, LAMBDA_CODE_LIMITS)).resolves.toEqual({ entries: 5, unzippedBytes: 45 + 2000 + pkg.length + 7 });
    expect(fs.readFileSync(path.join(target, 'node_modules/dep/index.js'), 'utf8')).toBe('module.exports = 42;'.repeat(100));
    expect(fs.readFileSync(path.join(target, 'node_modules/dep/package.json'), 'utf8')).toBe(pkg);
    expect(fs.readFileSync(path.join(target, 'data/file.json'), 'utf8')).toBe('{"a":1}');
  });

  it.each([
    ['random bytes', Buffer.from('this is certainly not a zip file, only some text'.repeat(10))],
    ['an empty buffer', Buffer.alloc(0)],
    ['a truncated zip', makeZip([{ name: 'index.js', content: 'x'.repeat(500), level: 0 }]).subarray(0, 300)],
  ])('refuses %s as not a zip', async (_what, zip) => {
    expect((await refusal(zip)).kind).toBe('not-a-zip');
  });

  it.each(['../x', 'a/../../x', '/etc/x', 'C:\\x', 'C:/x', 'dir\\..\\..\\x', 'a/..\\..\\x'])(
    'refuses the entry name %j without writing outside',
    async (name) => {
      const target = freshTarget();
      const error = await refusal(
        makeZip([
          { name: 'ok.js', content: 'ok' },
          { name, content: 'escaped' },
        ]),
        target,
      );
      expect(error).toMatchObject({ kind: 'unsafe-entry', message: expect.stringContaining(name) });
      expect(fs.existsSync(path.join(path.dirname(target), 'x'))).toBe(false);
      expect(fs.existsSync(path.join(base, 'x'))).toBe(false);
    },
  );

  it('creates a symlink pointing inside the folder', async () => {
    const target = freshTarget();
    await extractArchive(
      makeZip([
        { name: 'lib/v1/index.js', content: 'v1' },
        { name: 'lib/current', symlinkTo: 'v1' },
      ]),
      target,
      LAMBDA_CODE_LIMITS,
    );
    expect(fs.lstatSync(path.join(target, 'lib/current')).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(target, 'lib/current/index.js'), 'utf8')).toBe('v1');
  });

  it.each([
    ['absolute', [{ name: 'evil', symlinkTo: '/etc' }]],
    ['climbing out', [{ name: 'a/evil', symlinkTo: '../../x' }]],
    [
      'climbing out through a link to its own folder',
      [
        { name: 'a', symlinkTo: '.' },
        { name: 'b', symlinkTo: 'a/..' },
      ],
    ],
    [
      'climbing after descending',
      [
        { name: 'sub/', directory: true },
        { name: 'b', symlinkTo: 'sub/../../x' },
      ],
    ],
  ])('refuses a symlink %s', async (_what, entries) => {
    const error = await refusal(makeZip([{ name: 'index.js', content: 'x' }, ...entries]));
    expect(error.kind).toBe('unsafe-entry');
    expect(error.message).toMatch(/symlink/);
  });

  it('never writes through an extracted symlink', async () => {
    const outside = path.join(base, `outside-${++counter}`);
    fs.mkdirSync(outside);
    const throughAbsolute = await refusal(
      makeZip([
        { name: 'evil', symlinkTo: outside },
        { name: 'evil/x', content: 'pwned' },
      ]),
    );
    expect(throughAbsolute.kind).toBe('unsafe-entry');
    const throughInside = await refusal(
      makeZip([
        { name: 'sub/', directory: true },
        { name: 'link', symlinkTo: 'sub' },
        { name: 'link/x', content: 'x' },
      ]),
    );
    expect(throughInside).toMatchObject({ kind: 'unsafe-entry', message: expect.stringMatching(/"link\/x" would be written through the symlink "link"/) });
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it.each([
    ['a fifo', 0o010644],
    ['a character device', 0o020644],
    ['a block device', 0o060644],
    ['a socket', 0o140644],
  ])('refuses %s', async (_what, mode) => {
    expect(await refusal(makeZip([{ name: 'special', content: '', mode }]))).toMatchObject({
      kind: 'unsafe-entry',
      message: expect.stringContaining('special file'),
    });
  });

  it('refuses an encrypted entry', async () => {
    const zip = patchHeaders(makeZip([{ name: 'secret.js', content: 'x'.repeat(100) }]), 6, 8, 0x1, 2);
    expect(await refusal(zip)).toMatchObject({ kind: 'unsafe-entry', message: expect.stringContaining('"secret.js" is encrypted') });
  });

  it('refuses a name that appears twice', async () => {
    const zip = Buffer.from(
      makeZip([
        { name: 'a.js', content: '1' },
        { name: 'b.js', content: '2' },
      ])
        .toString('latin1')
        .replaceAll('b.js', 'a.js'),
      'latin1',
    );
    expect(await refusal(zip)).toMatchObject({ kind: 'unsafe-entry', message: expect.stringContaining('"a.js" appears twice') });
  });

  it('counts entries from the central directory before extracting', async () => {
    const zip = makeZip(Array.from({ length: 5 }, (_, i) => ({ name: `f${i}.js`, content: 'x' })));
    expect((await refusal(zip, freshTarget(), { ...LAMBDA_CODE_LIMITS, maxEntries: 4 })).kind).toBe('too-many-entries');
    await expect(extractArchive(zip, freshTarget(), { ...LAMBDA_CODE_LIMITS, maxEntries: 5 })).resolves.toMatchObject({ entries: 5 });
  });

  it('refuses a zip over maxZippedBytes, and declared sizes over maxUnzippedBytes', async () => {
    const zip = makeZip([
      { name: 'a.js', content: 'a'.repeat(600) },
      { name: 'b.js', content: 'b'.repeat(600) },
    ]);
    expect((await refusal(zip, freshTarget(), { ...LAMBDA_CODE_LIMITS, maxZippedBytes: zip.length - 1 })).kind).toBe('too-large');
    expect(await refusal(zip, freshTarget(), { ...LAMBDA_CODE_LIMITS, maxUnzippedBytes: 1000 })).toMatchObject({ kind: 'too-large', message: /1000 bytes/ });
    await expect(extractArchive(zip, freshTarget(), { ...LAMBDA_CODE_LIMITS, maxUnzippedBytes: 1200 })).resolves.toMatchObject({ unzippedBytes: 1200 });
  });

  it.each([
    // Up to 256 KiB an entry is inflated in one piece, bounded by its declared size: nothing is written.
    ['a small one, inflated whole', 1000, 64 * 1024, 0],
    // Larger ones are streamed, counted as they inflate: the write stops at the limit.
    ['a large one, streamed', 300 * 1024, 1024 * 1024, 1],
  ])(
    'stops a deflated entry whose header understates its size (%s) without writing past the limit',
    async (_what, declared, maxUnzippedBytes, writeStreams) => {
      const limits = { ...LAMBDA_CODE_LIMITS, maxUnzippedBytes };
      // 8 MiB of zeros deflate to ~8 KiB; both headers claim `declared` bytes.
      const zip = patchHeaders(makeZip([{ name: 'bomb.bin', content: Buffer.alloc(8 * 1024 * 1024) }]), 22, 24, declared);
      const streams: fs.WriteStream[] = [];
      const open = fs.promises.open;
      const spy = jest.spyOn(fs.promises, 'open').mockImplementation(async (...args: Parameters<typeof open>) => {
        const handle = await open(...args);
        const createWriteStream = handle.createWriteStream.bind(handle);
        handle.createWriteStream = (options) => streams[streams.push(createWriteStream(options)) - 1]!;
        return handle;
      });
      try {
        expect(await refusal(zip, freshTarget(), limits)).toMatchObject({ kind: 'too-large', message: expect.stringContaining('"bomb.bin"') });
      } finally {
        spy.mockRestore();
      }
      expect(streams).toHaveLength(writeStreams);
      for (const stream of streams) expect(stream.bytesWritten).toBeLessThanOrEqual(limits.maxUnzippedBytes);
    },
  );

  it('refuses a stored entry whose header understates its size', async () => {
    const zip = patchHeaders(makeZip([{ name: 'big.bin', content: Buffer.alloc(100_000, 1), level: 0 }]), 22, 24, 1000);
    expect((await refusal(zip)).kind).toBe('not-a-zip');
  });

  it('keeps permission bits but never setuid, setgid or sticky', async () => {
    const target = freshTarget();
    const zip = makeZip([
      { name: 'bootstrap', content: '#!/bin/sh', mode: 0o755 },
      { name: 'suid', content: 'x', mode: 0o4755 },
      { name: 'bin/', directory: true, mode: 0o3775 },
      { name: 'readme.txt', content: 'x', mode: 0o640 },
    ]);
    await extractArchive(zip, target, LAMBDA_CODE_LIMITS);
    expect(fs.statSync(path.join(target, 'bootstrap')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(target, 'suid')).mode & 0o7777).toBe(0o755);
    expect(fs.statSync(path.join(target, 'bin')).mode & 0o7777).toBe(0o775);
    expect(fs.statSync(path.join(target, 'readme.txt')).mode & 0o7777).toBe(0o640);
  });

  it('gives 0644 files and 0755 folders to a zip without Unix attributes', async () => {
    const target = freshTarget();
    await extractArchive(
      makeZip([
        { name: 'lib/', directory: true },
        { name: 'lib/a.js', content: 'a' },
        { name: 'deep/er/b.js', content: 'b' },
      ]),
      target,
      LAMBDA_CODE_LIMITS,
    );
    expect(fs.statSync(path.join(target, 'lib/a.js')).mode & 0o7777).toBe(0o644);
    expect(fs.statSync(path.join(target, 'deep/er/b.js')).mode & 0o7777).toBe(0o644);
    for (const folder of ['lib', 'deep', 'deep/er']) expect(fs.statSync(path.join(target, folder)).mode & 0o7777).toBe(0o755);
  });

  it('removes what it wrote when a later entry is refused, naming the entry', async () => {
    const target = freshTarget();
    const error = await refusal(
      makeZip([
        { name: 'index.js', content: 'fine' },
        { name: 'lib/x.js', content: 'fine' },
        { name: 'lib/bad', symlinkTo: '/etc/passwd' },
      ]),
      target,
    );
    expect(error.message).toBe('entry "lib/bad" is a symlink to "/etc/passwd", an absolute path');
  });

  it('refuses a target folder that exists, leaving it alone', async () => {
    const target = freshTarget();
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, 'keep'), 'mine');
    await expect(extractArchive(makeZip([{ name: 'a.js', content: 'a' }]), target, LAMBDA_CODE_LIMITS)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(fs.readFileSync(path.join(target, 'keep'), 'utf8')).toBe('mine');
  });
});
