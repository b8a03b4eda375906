import { zipSync, type Zippable } from 'fflate';

export interface ZipEntrySpec {
  name: string;
  content?: string | Buffer;
  /** Unix permission bits (e.g. 0o755), or a whole st_mode when it has file-type bits (e.g. 0o010644, a fifo); without it and without `symlinkTo`/`directory`, the entry carries no Unix attributes, as a zip made on Windows. */
  mode?: number;
  symlinkTo?: string;
  directory?: boolean;
  /** Stored (0) or deflated (default 6). */
  level?: 0 | 6 | 9;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const UNIX = 3;

function unixAttributes(spec: ZipEntrySpec): { os: number; attrs: number } | undefined {
  const type = spec.symlinkTo !== undefined ? S_IFLNK : spec.directory ? S_IFDIR : S_IFREG;
  const mode = spec.mode ?? (spec.symlinkTo !== undefined ? 0o777 : spec.directory ? 0o755 : undefined);
  if (mode === undefined) return undefined;
  // The upper 16 bits of the external attributes hold st_mode when the zip says it was made on Unix.
  const stMode = mode & S_IFMT ? mode : type | mode;
  return { os: UNIX, attrs: (stMode << 16) >>> 0 };
}

/** A zip of `entries` in order, with any names (even unsafe ones), modes and symlinks, for tests and benchmarks. */
export function makeZip(entries: ZipEntrySpec[]): Buffer {
  const files: Zippable = {};
  for (const spec of entries) {
    const name = spec.directory && !spec.name.endsWith('/') ? `${spec.name}/` : spec.name;
    const data = spec.symlinkTo ?? spec.content ?? '';
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
    const attributes = unixAttributes(spec) ?? { os: 0, attrs: spec.directory ? 0x10 : 0 };
    files[name] = [bytes, { level: spec.level ?? 6, mtime: new Date('2024-01-01T00:00:00Z'), ...attributes }];
  }
  return Buffer.from(zipSync(files));
}
