/**
 * A function deployed through Lambda's management API (CreateFunction and the rest), as Redis
 * keeps it: one document per function, under its hash tag, holding `$LATEST`, its published
 * versions, its aliases, its tags and its reserved concurrency. Every replica reads it from there.
 */

import type { Isolation, LambdaRuntime } from '../functions/runtimes';

/**
 * The tag that chooses how a deployed Node function runs: `thread` (the default) or `process`.
 * Lambda has no such field and the SDKs drop unknown members, so it is a tag
 * (`aws lambda create-function --tags invoq:isolation=process`, Terraform's `tags`). It applies
 * to every version; Python and custom runtimes always run as a process, whatever it says.
 */
export const ISOLATION_TAG = 'invoq:isolation';
export const ISOLATIONS: readonly Isolation[] = ['thread', 'process'];

/** The code and configuration one version runs: `$LATEST`'s current one, or a published version's (immutable). */
export interface VersionRecord {
  /** `$LATEST`, or a published version's number as a string (`"1"`, `"2"`, …). */
  version: string;
  /** base64 of the zip's SHA-256, as Lambda's `CodeSha256`. */
  codeSha256: string;
  /** The zip's size in bytes (`CodeSize`). */
  codeSize: number;
  /** Any runtime invoq runs (LAMBDA_RUNTIMES): Node on the host's Node, Python on its `python3`, custom runtimes' `bootstrap`. */
  runtime: LambdaRuntime;
  handler: string;
  role: string;
  description: string;
  /** Seconds, 1–900. */
  timeout: number;
  /** MB, 128–10240. */
  memorySize: number;
  environment: Record<string, string>;
  /** Epoch ms of the change that made this record (`LastModified`). */
  modifiedAt: number;
  /**
   * `RevisionId` of this record. For `$LATEST` while its last change settles (see
   * `DeployedFunction.settlesAt`) it is `revisionId`; once settled, `settledRevisionId`:
   * Lambda changes the revision on the state transition too.
   */
  revisionId: string;
}

export interface AliasRecord {
  name: string;
  /** A published version's number, or `$LATEST`. */
  functionVersion: string;
  description: string;
  /** A second version and the share of invocations (0–1) it takes; the rest go to `functionVersion`. */
  additionalVersionWeights: Record<string, number>;
  revisionId: string;
}

export interface DeployedFunction {
  name: string;
  /** Increments on every write: the compare-and-set token (not Lambda's RevisionId). */
  etag: number;
  createdAt: number;
  latest: VersionRecord;
  /**
   * Epoch ms when `$LATEST`'s last change settles. Before it, a new function shows
   * `State: Pending` (`lastChange: 'create'`) and an updated one `LastUpdateStatus: InProgress`
   * (`lastChange: 'update'`), and a further change is refused (ResourceConflictException); after
   * it, `Active` / `Successful`. Time-based, so no process has to be alive to finish it.
   */
  settlesAt: number;
  lastChange: 'create' | 'update';
  /** `$LATEST`'s RevisionId once settled. */
  settledRevisionId: string;
  /** Published versions by number. */
  versions: Record<string, VersionRecord>;
  /** The number the next PublishVersion takes (Lambda never reuses one). */
  nextVersion: number;
  aliases: Record<string, AliasRecord>;
  tags: Record<string, string>;
  reservedConcurrency?: number;
}

/** How long a change to `$LATEST` shows as in progress before it settles. */
export const SETTLE_MS = 1000;

/** `$LATEST`'s RevisionId at `now`. */
export function latestRevisionId(fn: DeployedFunction, now = Date.now()): string {
  return now < fn.settlesAt ? fn.latest.revisionId : fn.settledRevisionId;
}

/** Every code hash a function still uses: `$LATEST`'s and its versions' (what must stay in Redis). */
export function codeInUse(fn: DeployedFunction): Set<string> {
  return new Set([fn.latest.codeSha256, ...Object.values(fn.versions).map((v) => v.codeSha256)]);
}
