/**
 * How a change moves a deployed function's document forward, as Lambda moves a function: fresh
 * revisions, the settle window of a `$LATEST` change, and versions published as copies of it.
 */
import { randomUUID } from 'node:crypto';
import { InvoqError } from '../errors';
import { SETTLE_MS, type DeployedFunction, type VersionRecord } from './deployed-function';

type LatestPatch = Partial<Omit<VersionRecord, 'version' | 'modifiedAt' | 'revisionId'>>;

/** A change to `$LATEST`'s code or configuration: new revisions, and it shows in progress for SETTLE_MS. */
export function changeLatest(fn: DeployedFunction, patch: LatestPatch, now: number): DeployedFunction {
  return {
    ...fn,
    latest: { ...fn.latest, ...patch, version: '$LATEST', modifiedAt: now, revisionId: randomUUID() },
    settledRevisionId: randomUUID(),
    settlesAt: now + SETTLE_MS,
    lastChange: 'update',
  };
}

/**
 * A change to the function that leaves `$LATEST`'s code and configuration as they are (tags,
 * concurrency, a published version): Lambda still gives it a new RevisionId, whether or not its
 * last change has settled, and the settle time stays.
 */
export function reviseFunction(fn: DeployedFunction): DeployedFunction {
  return { ...fn, latest: { ...fn.latest, revisionId: randomUUID() }, settledRevisionId: randomUUID() };
}

/** What running a version means: two records that agree on these run the same thing. */
function sameCodeAndConfiguration(a: VersionRecord, b: VersionRecord): boolean {
  return (
    a.codeSha256 === b.codeSha256 &&
    a.runtime === b.runtime &&
    a.handler === b.handler &&
    a.role === b.role &&
    a.timeout === b.timeout &&
    a.memorySize === b.memorySize &&
    JSON.stringify(sortedEntries(a.environment)) === JSON.stringify(sortedEntries(b.environment))
  );
}

const sortedEntries = (record: Record<string, string>) => Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** The highest-numbered published version still there. */
export function newestVersion(fn: DeployedFunction): VersionRecord | undefined {
  const numbers = Object.keys(fn.versions).map(Number);
  return numbers.length === 0 ? undefined : fn.versions[String(Math.max(...numbers))];
}

/**
 * PublishVersion: a copy of `$LATEST` under the next number (never reused), or, when `$LATEST`
 * runs what the newest version runs, that version and no new one (Lambda's answer).
 */
export function publishLatest(
  fn: DeployedFunction,
  now: number,
  options: { description?: string; codeSha256?: string },
): { fn: DeployedFunction; version: VersionRecord } {
  if (options.codeSha256 !== undefined && options.codeSha256 !== fn.latest.codeSha256) {
    throw new InvoqError(
      'INVALID_PARAMETER',
      `CodeSHA256 (${options.codeSha256}) is different from current CodeSHA256 in $LATEST (${fn.latest.codeSha256}). Please try again with the CodeSHA256 in $LATEST.`,
    );
  }
  const newest = newestVersion(fn);
  if (newest && sameCodeAndConfiguration(newest, fn.latest)) return { fn, version: newest };
  const number = String(fn.nextVersion);
  const version: VersionRecord = {
    ...fn.latest,
    version: number,
    description: options.description ?? fn.latest.description,
    modifiedAt: now,
    revisionId: randomUUID(),
  };
  return { fn: { ...reviseFunction(fn), versions: { ...fn.versions, [number]: version }, nextVersion: fn.nextVersion + 1 }, version };
}

/** The aliases that send invocations to `version`, as their function version or their extra one. */
export function aliasesRoutingTo(fn: DeployedFunction, version: string): string[] {
  return Object.values(fn.aliases)
    .filter((alias) => alias.functionVersion === version || version in alias.additionalVersionWeights)
    .map((alias) => alias.name)
    .sort();
}
