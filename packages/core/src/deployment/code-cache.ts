import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { codeSha256, extractArchive, type CodeLimits } from './code-archive';

const PARTIAL_PREFIX = '.partial-';
const HEX_NAME = /^[0-9a-f]{64}$/;

function hexOf(sha256: string): string {
  const hex = Buffer.from(sha256, 'base64').toString('hex');
  if (!HEX_NAME.test(hex)) throw new Error(`Not a base64 SHA-256: ${sha256}`);
  return hex;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Extracted deployment packages, one folder per code hash, shared by every process using `directory`:
 * a folder appears whole (extracted aside, then renamed) or not at all.
 */
export class CodeCache {
  private readonly directory: string;
  private readonly limits: CodeLimits;
  private readonly extracting = new Map<string, Promise<string>>();

  constructor(options: { directory: string; limits: CodeLimits }) {
    this.directory = path.resolve(options.directory);
    this.limits = options.limits;
  }

  /** The folder holding the extracted code of `sha256` (base64), extracting `zip()` once if absent. Concurrent calls share one extraction; processes sharing the folder are safe (extract to a temp dir, rename). */
  async directoryFor(sha256: string, zip: () => Promise<Buffer>): Promise<string> {
    const hex = hexOf(sha256);
    const pending = this.extracting.get(hex);
    if (pending !== undefined) return pending;
    const extraction = this.obtain(sha256, hex, zip).finally(() => this.extracting.delete(hex));
    this.extracting.set(hex, extraction);
    return extraction;
  }

  private async obtain(sha256: string, hex: string, zip: () => Promise<Buffer>): Promise<string> {
    const folder = path.join(this.directory, hex);
    if (await this.touch(folder)) return folder;
    const bytes = await zip();
    const actual = codeSha256(bytes);
    if (actual !== sha256) throw new Error(`The code's SHA-256 is ${actual}, not the expected ${sha256}`);
    await fs.promises.mkdir(this.directory, { recursive: true });
    const partial = path.join(this.directory, `${PARTIAL_PREFIX}${hex}-${randomBytes(6).toString('hex')}`);
    await extractArchive(bytes, partial, this.limits);
    try {
      await fs.promises.rename(partial, folder);
    } catch (error) {
      // Another process renamed its copy first (rename onto a non-empty folder fails): theirs is as good.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
      await fs.promises.rm(partial, { recursive: true, force: true });
      await this.touch(folder);
    }
    return folder;
  }

  /** Marks the folder as used now (prune's grace counts from here); false when it does not exist. */
  private async touch(folder: string): Promise<boolean> {
    const now = new Date();
    try {
      await fs.promises.utimes(folder, now, now);
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw error;
    }
  }

  /** Removes extracted folders whose hash is not in `inUse` and that were not used for `graceMs`. */
  async prune(inUse: ReadonlySet<string>, graceMs = 60_000): Promise<number> {
    const keep = new Set([...inUse].map((sha256) => Buffer.from(sha256, 'base64').toString('hex')));
    let names: string[];
    try {
      names = await fs.promises.readdir(this.directory);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    const cutoff = Date.now() - graceMs;
    let removed = 0;
    for (const name of names) {
      const partial = name.startsWith(PARTIAL_PREFIX);
      if (!partial && (!HEX_NAME.test(name) || keep.has(name))) continue;
      // An extraction of this process in flight is never stale, whatever its age.
      if (partial && [...this.extracting.keys()].some((hex) => name.startsWith(`${PARTIAL_PREFIX}${hex}-`))) continue;
      const folder = path.join(this.directory, name);
      try {
        if ((await fs.promises.lstat(folder)).mtimeMs >= cutoff) continue;
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      // force: another process may have pruned it meanwhile.
      await fs.promises.rm(folder, { recursive: true, force: true });
      removed += 1;
    }
    return removed;
  }
}
