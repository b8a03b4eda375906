import path from 'node:path';
import yauzl from 'yauzl';

export type ArchiveErrorKind = 'not-a-zip' | 'unsafe-entry' | 'too-large' | 'too-many-entries';

/** Why an uploaded zip was refused; the message is shown to users after "Could not unzip uploaded file: ". */
export class CodeArchiveError extends Error {
  constructor(
    readonly kind: ArchiveErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'CodeArchiveError';
  }
}

export interface PlannedEntry {
  entry: yauzl.Entry;
  /** The entry's name as written in the zip, for messages. */
  name: string;
  /** Path segments below the target folder (validated: no `..`, no empty, no absolute). */
  segments: string[];
  type: 'file' | 'directory' | 'symlink';
  /** Permission bits to apply (never setuid/setgid/sticky). */
  mode: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const MADE_ON_UNIX = 3;
const DOS_DIRECTORY = 0x10;
// The service must always be able to read the code and, later, to remove the folder: owner bits are kept on.
const FILE_OWNER_BITS = 0o400;
const DIRECTORY_OWNER_BITS = 0o700;

export function unsafe(name: string, why: string): CodeArchiveError {
  return new CodeArchiveError('unsafe-entry', `entry "${name}" ${why}`);
}

function entryName(entry: yauzl.Entry): string {
  // Strict: backslashes are kept (so refused below) instead of being read as folder separators.
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
}

function unixMode(entry: yauzl.Entry): number | undefined {
  if (entry.versionMadeBy >>> 8 !== MADE_ON_UNIX) return undefined;
  const mode = entry.externalFileAttributes >>> 16;
  return mode === 0 ? undefined : mode;
}

function entryType(entry: yauzl.Entry, name: string, mode: number | undefined): PlannedEntry['type'] {
  const namedAsFolder = name.endsWith('/');
  const fileType = mode === undefined ? 0 : mode & S_IFMT;
  if (fileType === 0) return namedAsFolder || entry.externalFileAttributes & DOS_DIRECTORY ? 'directory' : 'file';
  if (fileType === S_IFDIR) return 'directory';
  if (namedAsFolder) throw unsafe(name, 'is named as a folder but is not one');
  if (fileType === S_IFREG) return 'file';
  if (fileType === S_IFLNK) return 'symlink';
  throw unsafe(name, `is a special file (type 0o${fileType.toString(8)}), not a file, folder or symlink`);
}

/** Checks one central-directory entry before anything is written, answering where and how it is extracted. */
export function planEntry(entry: yauzl.Entry): PlannedEntry {
  const name = entryName(entry);
  const invalid = yauzl.validateFileName(name);
  if (invalid !== null) throw unsafe(name, `has an unsafe name (${invalid})`);
  if (name.includes('\0')) throw unsafe(name, 'has a NUL character in its name');
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.length === 0) throw unsafe(name, 'names no file');
  if (entry.isEncrypted()) throw unsafe(name, 'is encrypted');
  if (!entry.canDecodeFileData()) throw unsafe(name, `uses compression method ${entry.compressionMethod}, only stored and deflated are supported`);
  const mode = unixMode(entry);
  const type = entryType(entry, name, mode);
  const permissions = mode === undefined ? (type === 'directory' ? 0o755 : 0o644) : mode & 0o777;
  return { entry, name, segments, type, mode: permissions | (type === 'directory' ? DIRECTORY_OWNER_BITS : FILE_OWNER_BITS) };
}

/**
 * Refuses a link target unless it stays inside the folder however links are followed: relative, its `..`
 * only leading (they climb real folders, as no entry is written through a link) and then only descending.
 * Lexical checks alone miss `a -> .` plus `b -> a/..`, which points just outside.
 */
export function checkLinkTarget(planned: PlannedEntry, target: string): void {
  const fail = (why: string) => unsafe(planned.name, `is a symlink to "${target}", ${why}`);
  if (target === '' || target.includes('\0') || target.includes('\\')) throw fail('an invalid target');
  if (path.posix.isAbsolute(target) || /^[A-Za-z]:/.test(target)) throw fail('an absolute path');
  const segments = target.split('/').filter((segment) => segment !== '' && segment !== '.');
  const climbs = segments.findIndex((segment) => segment !== '..');
  const leading = climbs === -1 ? segments.length : climbs;
  if (segments.slice(leading).includes('..')) throw fail('which climbs back up after descending');
  if (leading > planned.segments.length - 1) throw fail('outside the extracted folder');
}
