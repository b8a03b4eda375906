import { randomUUID } from 'node:crypto';
import { InvoqError } from '../errors';
import { functionArn } from '../functions/resolved-function';
import { runtimeFamily } from '../functions/runtimes';
import { SETTLE_MS, latestRevisionId, type AliasRecord, type DeployedFunction, type VersionRecord } from './deployed-function';
import * as check from './deployment-validation';
import { aliasesRoutingTo, changeLatest, publishLatest, reviseFunction } from './function-revisions';
import type { FunctionStore, StoreChange } from './function-store';
import type { AliasInput, ConfigurationPatch, CreateFunctionInput } from './deployment-inputs';
import { checkHandler, checkZipSize, codeDirectory, prepareUpload, type PrepareCode } from './uploaded-code';

export type { AliasInput, ConfigurationPatch, CreateFunctionInput } from './deployment-inputs';

export interface FunctionDeploymentsDeps {
  store: FunctionStore;
  /** Validates and extracts a zip (CodeCache.directoryFor), answering its folder; CodeArchiveError on a bad zip. */
  prepareCode: PrepareCode;
  /** True for a folder function's name (INVOQ_FUNCTIONS_DIR): such names are refused (RESOURCE_CONFLICT, "managed by its folder"). */
  isFolderFunction: (name: string) => boolean;
  region: string;
  /** INVOQ_MAX_CODE_BYTES. */
  maxZippedBytes: number;
  now?: () => number;
}

/**
 * Lambda's management semantics for deployed functions, on top of the FunctionStore: each method
 * validates as Lambda does, then changes the function's document in one compare-and-set (so
 * concurrent calls from any API replica apply one after another), and throws InvoqError with
 * Lambda's exceptions.
 */
export class FunctionDeployments {
  private readonly store: FunctionStore;
  private readonly region: string;
  private readonly now: () => number;

  constructor(private readonly deps: FunctionDeploymentsDeps) {
    this.store = deps.store;
    this.region = deps.region;
    this.now = deps.now ?? Date.now;
  }

  async create(input: CreateFunctionInput): Promise<DeployedFunction> {
    const { name } = input;
    this.checkChangeable(name);
    check.checkFunctionName(name);
    checkZipSize(input.zipFile, this.deps.maxZippedBytes);
    const runtime = check.checkRuntime(input.runtime);
    check.checkRole(input.role);
    const [timeout, memorySize, description, environment, tags] = [
      input.timeout ?? 3,
      input.memorySize ?? 128,
      input.description ?? '',
      input.environment ?? {},
      input.tags ?? {},
    ];
    check.checkTimeout(timeout);
    check.checkMemorySize(memorySize);
    check.checkDescription(description);
    check.checkEnvironment(environment);
    check.checkTags(tags);
    // Refused before the code is extracted; checked again in the write, which decides.
    if (await this.store.get(name)) throw this.alreadyExists(name);
    const code = await prepareUpload(this.deps.prepareCode, input.zipFile, { runtime, handler: input.handler });
    return this.write(name, (current) => {
      if (current) throw this.alreadyExists(name);
      const now = this.now();
      const latest: VersionRecord = {
        ...{ version: '$LATEST', codeSha256: code.sha256, codeSize: code.zip.length, runtime, handler: input.handler, role: input.role },
        ...{ description, timeout, memorySize, environment, modifiedAt: now, revisionId: randomUUID() },
      };
      const fn: DeployedFunction = {
        ...{ name, etag: 0, createdAt: now, latest, settlesAt: now + SETTLE_MS, lastChange: 'create', settledRevisionId: randomUUID() },
        ...{ versions: {}, nextVersion: 1, aliases: {}, tags },
      };
      return { next: input.publish ? publishLatest(fn, now, {}).fn : fn, code };
    });
  }

  async updateCode(name: string, input: { zipFile: Buffer; revisionId?: string; publish?: boolean }): Promise<DeployedFunction> {
    this.checkChangeable(name);
    checkZipSize(input.zipFile, this.deps.maxZippedBytes);
    // Refused before the code is extracted when there is no such function.
    await this.existing(name);
    const code = await prepareUpload(this.deps.prepareCode, input.zipFile);
    return this.write(name, (current) => {
      const fn = this.latestChangeable(name, current, input.revisionId);
      checkHandler(code.directory, fn.latest.runtime, fn.latest.handler);
      const next = changeLatest(fn, { codeSha256: code.sha256, codeSize: code.zip.length }, this.now());
      return { next: input.publish ? publishLatest(next, this.now(), {}).fn : next, code };
    });
  }

  async updateConfiguration(name: string, input: ConfigurationPatch & { revisionId?: string }): Promise<DeployedFunction> {
    this.checkChangeable(name);
    const { revisionId, ...patch } = input;
    const runtime = patch.runtime === undefined ? undefined : check.checkRuntime(patch.runtime);
    if (patch.role !== undefined) check.checkRole(patch.role);
    if (patch.timeout !== undefined) check.checkTimeout(patch.timeout);
    if (patch.memorySize !== undefined) check.checkMemorySize(patch.memorySize);
    if (patch.description !== undefined) check.checkDescription(patch.description);
    if (patch.environment !== undefined) check.checkEnvironment(patch.environment);
    return this.write(name, async (current) => {
      const fn = this.latestChangeable(name, current, revisionId);
      // A new handler, or a new runtime that reads the handler differently, is checked against the code.
      const handler = patch.handler ?? fn.latest.handler;
      const nextRuntime = runtime ?? fn.latest.runtime;
      if (handler !== fn.latest.handler || runtimeFamily(nextRuntime) !== runtimeFamily(fn.latest.runtime)) {
        const zip = await this.store.getCode(name, fn.latest.codeSha256);
        if (!zip) throw new InvoqError('SERVICE', `The code of function ${name} is missing from Redis; retry later.`, { retryAfterSeconds: 1 });
        checkHandler(await codeDirectory(this.deps.prepareCode, fn.latest.codeSha256, zip), nextRuntime, handler);
      }
      const defined = Object.fromEntries(Object.entries({ ...patch, runtime }).filter(([, value]) => value !== undefined));
      return { next: changeLatest(fn, defined, this.now()) };
    });
  }

  async delete(name: string, qualifier?: string): Promise<void> {
    this.checkChangeable(name);
    if (qualifier === '$LATEST') throw new InvoqError('INVALID_PARAMETER', '$LATEST version cannot be deleted without deleting the function.');
    await this.store.update(name, (current) => {
      if (!current) throw check.notFound(name, this.region);
      if (qualifier === undefined) return { next: null };
      if (!/^[0-9]+$/.test(qualifier) || !current.versions[qualifier]) throw check.notFound(name, this.region, qualifier);
      const routing = aliasesRoutingTo(current, qualifier);
      if (routing.length > 0)
        throw new InvoqError('RESOURCE_CONFLICT', `Unable to delete version because the following aliases reference it: [${routing.join(', ')}]`);
      const { [qualifier]: _deleted, ...versions } = current.versions;
      return { next: { ...current, versions } };
    });
  }

  async publishVersion(
    name: string,
    input: { description?: string; revisionId?: string; codeSha256?: string },
  ): Promise<{ fn: DeployedFunction; version: VersionRecord }> {
    this.checkChangeable(name);
    if (input.description !== undefined) check.checkDescription(input.description);
    let published: VersionRecord | undefined;
    const fn = await this.write(name, (current) => {
      const found = this.found(name, current);
      check.checkRevision(input.revisionId, latestRevisionId(found, this.now()));
      const result = publishLatest(found, this.now(), input);
      published = result.version;
      return { next: result.fn };
    });
    return { fn, version: published! };
  }

  async createAlias(name: string, input: AliasInput): Promise<AliasRecord> {
    this.checkChangeable(name);
    check.checkAliasName(input.name);
    if (input.description !== undefined) check.checkDescription(input.description);
    const alias: AliasRecord = {
      ...{ name: input.name, functionVersion: input.functionVersion, description: input.description ?? '' },
      ...{ additionalVersionWeights: input.additionalVersionWeights ?? {}, revisionId: randomUUID() },
    };
    await this.write(name, (current) => {
      const fn = this.found(name, current);
      if (fn.aliases[alias.name]) throw new InvoqError('RESOURCE_CONFLICT', `Alias already exists: ${functionArn(name, this.region)}:${alias.name}`);
      check.checkRouting(fn, this.region, alias.functionVersion, alias.additionalVersionWeights);
      return { next: { ...fn, aliases: { ...fn.aliases, [alias.name]: alias } } };
    });
    return alias;
  }

  async updateAlias(name: string, alias: string, input: Partial<AliasInput> & { revisionId?: string }): Promise<AliasRecord> {
    this.checkChangeable(name);
    if (input.description !== undefined) check.checkDescription(input.description);
    let updated: AliasRecord | undefined;
    await this.write(name, (current) => {
      const fn = this.found(name, current);
      const existing = fn.aliases[alias];
      if (!existing) throw check.aliasNotFound(name, this.region, alias);
      check.checkRevision(input.revisionId, existing.revisionId);
      updated = {
        ...existing,
        ...(input.functionVersion === undefined ? {} : { functionVersion: input.functionVersion }),
        ...(input.description === undefined ? {} : { description: input.description }),
        ...(input.additionalVersionWeights === undefined ? {} : { additionalVersionWeights: input.additionalVersionWeights }),
        revisionId: randomUUID(),
      };
      check.checkRouting(fn, this.region, updated.functionVersion, updated.additionalVersionWeights);
      return { next: { ...fn, aliases: { ...fn.aliases, [alias]: updated } } };
    });
    return updated!;
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    this.checkChangeable(name);
    await this.write(name, (current) => {
      const fn = this.found(name, current);
      if (!fn.aliases[alias]) throw check.aliasNotFound(name, this.region, alias);
      const { [alias]: _deleted, ...aliases } = fn.aliases;
      return { next: { ...fn, aliases } };
    });
  }

  async putConcurrency(name: string, reserved: number): Promise<number> {
    this.checkChangeable(name);
    check.checkConcurrency(reserved);
    await this.write(name, (current) => ({ next: { ...reviseFunction(this.found(name, current)), reservedConcurrency: reserved } }));
    return reserved;
  }

  async deleteConcurrency(name: string): Promise<void> {
    this.checkChangeable(name);
    await this.write(name, (current) => {
      const { reservedConcurrency: _removed, ...fn } = reviseFunction(this.found(name, current));
      return { next: fn };
    });
  }

  async tag(name: string, tags: Record<string, string>): Promise<void> {
    this.checkChangeable(name);
    check.checkTags(tags);
    await this.write(name, (current) => {
      const fn = this.found(name, current);
      const merged = { ...fn.tags, ...tags };
      check.checkTags(merged);
      return { next: { ...reviseFunction(fn), tags: merged } };
    });
  }

  async untag(name: string, keys: readonly string[]): Promise<void> {
    this.checkChangeable(name);
    await this.write(name, (current) => {
      const fn = this.found(name, current);
      return { next: { ...reviseFunction(fn), tags: Object.fromEntries(Object.entries(fn.tags).filter(([key]) => !keys.includes(key))) } };
    });
  }

  get(name: string): Promise<DeployedFunction | undefined> {
    return this.store.get(name);
  }

  /** Every deployed function, by name. */
  async list(): Promise<DeployedFunction[]> {
    const found = await this.store.getMany(await this.store.names());
    return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One compare-and-set whose change always answers a document (only `delete` removes one). */
  private async write(name: string, change: (current: DeployedFunction | undefined) => StoreChange | Promise<StoreChange>): Promise<DeployedFunction> {
    const written = await this.store.update(name, change);
    if (!written) throw check.notFound(name, this.region);
    return written;
  }

  private checkChangeable(name: string): void {
    if (this.deps.isFolderFunction(name)) {
      throw new InvoqError('RESOURCE_CONFLICT', `Function ${name} is managed by its folder (INVOQ_FUNCTIONS_DIR) and cannot be changed through the API`);
    }
  }

  private alreadyExists(name: string): InvoqError {
    return new InvoqError('RESOURCE_CONFLICT', `Function already exist: ${name}`);
  }

  private found(name: string, current: DeployedFunction | undefined): DeployedFunction {
    if (!current) throw check.notFound(name, this.region);
    return current;
  }

  private async existing(name: string): Promise<DeployedFunction> {
    return this.found(name, await this.store.get(name));
  }

  /** The function, if `$LATEST` may change now: it exists, its last change settled, and the RevisionId (if given) is current. */
  private latestChangeable(name: string, current: DeployedFunction | undefined, revisionId: string | undefined): DeployedFunction {
    const fn = this.found(name, current);
    const now = this.now();
    check.checkSettled(fn, this.region, now);
    check.checkRevision(revisionId, latestRevisionId(fn, now));
    return fn;
  }
}
