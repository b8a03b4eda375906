/**
 * Lambda's management semantics for deployed functions against a real Redis: create and its
 * checks, revisions and the settle window, code kept while used, versions, aliases, concurrency,
 * tags under concurrent writers, deletes and the folder functions' names, on a clock the test moves.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync, zipSync, strToU8 } from 'fflate';
import { closeRedis, createRedisConnection } from '../redis/redis-connection';
import { testRedisUrl, uniquePrefix } from '../../../../test/support/harness';
import { LAMBDA_RUNTIMES } from '../functions/runtimes';
import { SETTLE_MS, latestRevisionId } from './deployed-function';
import { FunctionDeployments, type CreateFunctionInput } from './function-deployments';
import { FunctionStore } from './function-store';

const codeRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-deployments-'));
/** What the code cache does, without its safety: extracts once per hash; a non-zip is a CodeArchiveError. */
async function prepareCode(sha256: string, zip: Buffer): Promise<string> {
  const directory = path.join(codeRoot, Buffer.from(sha256, 'base64').toString('hex'));
  if (fs.existsSync(directory)) return directory;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip);
  } catch (e) {
    throw Object.assign(new Error(`not a zip: ${(e as Error).message}`), { name: 'CodeArchiveError' });
  }
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(directory, name)), { recursive: true });
    fs.writeFileSync(path.join(directory, name), data);
  }
  return directory;
}
const zipOf = (files: Record<string, string>) => Buffer.from(zipSync(Object.fromEntries(Object.entries(files).map(([name, text]) => [name, strToU8(text)]))));
const code = (body = 'return event;') => zipOf({ 'index.js': `exports.handler = async (event) => { ${body} };` });

const connection = createRedisConnection(testRedisUrl());
const prefix = uniquePrefix('deployments');
const store = new FunctionStore(connection, prefix);
let clock = 1_700_000_000_000;
const deployments = new FunctionDeployments({
  store,
  prepareCode,
  isFolderFunction: (name) => name === 'folder-fn',
  region: 'eu-west-1',
  maxZippedBytes: 10_000,
  now: () => clock,
});
const settle = () => (clock += SETTLE_MS);
afterAll(async () => {
  await closeRedis(connection);
  fs.rmSync(codeRoot, { recursive: true, force: true });
});

const input = (name: string, extra: Partial<CreateFunctionInput> = {}): CreateFunctionInput => ({
  name,
  runtime: 'nodejs20.x',
  role: 'arn:aws:iam::000000000000:role/lambda',
  handler: 'index.handler',
  zipFile: code(),
  ...extra,
});
const codeKeys = (name: string) => connection.keys(`${prefix}:{${name}}:code:*`);
const rejects = (work: Promise<unknown>, code: string, message?: string | RegExp) =>
  expect(work).rejects.toMatchObject({
    code,
    ...(message === undefined ? {} : { message: typeof message === 'string' ? message : expect.stringMatching(message) }),
  });

it('creates a function with Lambda’s defaults, Pending until it settles; get and list show it', async () => {
  const fn = await deployments.create(input('hello', { tags: { team: 'a' } }));
  expect(fn.latest).toMatchObject({
    version: '$LATEST',
    runtime: 'nodejs20.x',
    handler: 'index.handler',
    timeout: 3,
    memorySize: 128,
    description: '',
    environment: {},
  });
  expect(fn).toMatchObject({ lastChange: 'create', settlesAt: clock + SETTLE_MS, createdAt: clock, tags: { team: 'a' }, versions: {}, nextVersion: 1 });
  expect(fn.latest.codeSha256).toBe(createHash('sha256').update(code()).digest('base64'));
  expect(fn.latest.codeSize).toBe(code().length);
  expect(latestRevisionId(fn, clock)).toBe(fn.latest.revisionId);
  expect(latestRevisionId(fn, clock + SETTLE_MS)).toBe(fn.settledRevisionId);
  expect(fn.settledRevisionId).not.toBe(fn.latest.revisionId);
  expect(await deployments.get('hello')).toEqual(fn);
  expect((await deployments.list()).map((f) => f.name)).toContain('hello');
  await rejects(deployments.create(input('hello')), 'RESOURCE_CONFLICT', 'Function already exist: hello');
  settle();
});

it('validates a create as Lambda does', async () => {
  await rejects(
    deployments.create(input('bad-runtime', { runtime: 'java21' })),
    'INVALID_PARAMETER',
    `The runtime parameter of java21 is not supported. Supported runtimes: ${LAMBDA_RUNTIMES.join(', ')}`,
  );
  await rejects(deployments.create(input('reserved', { environment: { AWS_REGION: 'x' } })), 'INVALID_PARAMETER', /reserved keys.*AWS_REGION/);
  await rejects(deployments.create(input('bad-env', { environment: { '1x': 'y' } })), 'INVALID_PARAMETER');
  await rejects(deployments.create(input('big-env', { environment: { BIG: 'x'.repeat(4100) } })), 'INVALID_PARAMETER', /4KB/);
  await rejects(deployments.create(input('slow', { timeout: 901 })), 'INVALID_PARAMETER');
  await rejects(deployments.create(input('tiny', { memorySize: 64 })), 'INVALID_PARAMETER');
  await rejects(deployments.create(input('bad name!')), 'INVALID_PARAMETER');
  await rejects(deployments.create(input('huge', { zipFile: Buffer.alloc(10_001) })), 'PAYLOAD_TOO_LARGE');
  await rejects(deployments.create(input('notzip', { zipFile: Buffer.from('plain text') })), 'INVALID_PARAMETER', /^Could not unzip uploaded file\. not a zip/);
  await rejects(deployments.create(input('nohandler', { handler: 'src/app.handler' })), 'INVALID_PARAMETER', /src\/app\.handler.*src\/app\{\.js,\.cjs,\.mjs\}/);
  await rejects(deployments.create(input('folder-fn')), 'RESOURCE_CONFLICT', /folder-fn is managed by its folder/);
  for (const name of ['bad-runtime', 'reserved', 'huge', 'notzip', 'nohandler', 'folder-fn']) expect(await deployments.get(name)).toBeUndefined();
});

it('deploys Python and custom runtimes without looking for their module or bootstrap (Lambda fails the invocation), but a Python handler must be module.function', async () => {
  const python = await deployments.create(input('py', { runtime: 'python3.12', handler: 'pkg.app.handler' }));
  expect(python.latest).toMatchObject({ runtime: 'python3.12', handler: 'pkg.app.handler' });
  const custom = await deployments.create(input('custom', { runtime: 'provided.al2023', handler: 'anything goes' }));
  expect(custom.latest).toMatchObject({ runtime: 'provided.al2023', handler: 'anything goes' });
  await rejects(
    deployments.create(input('py-bad', { runtime: 'python3.12', handler: 'app' })),
    'INVALID_PARAMETER',
    /The handler app of a python3\.12 function must be "module\.function"/,
  );
  settle();
  // The code of a Python function changes without a Node module; turning it into a Node function checks the module.
  await deployments.updateCode('py', { zipFile: zipOf({ 'pkg/app.py': 'def handler(e, c): return e' }) });
  settle();
  await rejects(
    deployments.updateConfiguration('py', { runtime: 'nodejs22.x' }),
    'INVALID_PARAMETER',
    /The handler pkg\.app\.handler cannot be found.*no module pkg\{\.js,\.cjs,\.mjs\}/,
  );
  await rejects(deployments.updateConfiguration('py', { handler: 'app' }), 'INVALID_PARAMETER', /must be "module\.function"/);
  await deployments.updateConfiguration('py', { runtime: 'python3.9', handler: 'pkg.app.other' });
  expect((await deployments.get('py'))!.latest).toMatchObject({ runtime: 'python3.9', handler: 'pkg.app.other' });
});

it('takes invoq:isolation=thread|process as a tag, and refuses any other value naming the allowed ones', async () => {
  const fn = await deployments.create(input('isolated', { tags: { 'invoq:isolation': 'process' } }));
  expect(fn.tags).toEqual({ 'invoq:isolation': 'process' });
  await deployments.tag('isolated', { 'invoq:isolation': 'thread' });
  expect((await deployments.get('isolated'))!.tags).toEqual({ 'invoq:isolation': 'thread' });
  const allowed = /Invalid tag invoq:isolation: "container"; the allowed values are thread, process/;
  await rejects(deployments.tag('isolated', { 'invoq:isolation': 'container' }), 'INVALID_PARAMETER', allowed);
  await rejects(deployments.create(input('isolated-bad', { tags: { 'invoq:isolation': 'container' } })), 'INVALID_PARAMETER', allowed);
  expect(await deployments.get('isolated-bad')).toBeUndefined();
  expect((await deployments.get('isolated'))!.tags).toEqual({ 'invoq:isolation': 'thread' });
});

it('refuses a change to $LATEST while the last one settles, and a stale RevisionId', async () => {
  const fn = await deployments.create(input('settling'));
  await rejects(
    deployments.updateConfiguration('settling', { timeout: 10 }),
    'RESOURCE_CONFLICT',
    `The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:eu-west-1:000000000000:function:settling`,
  );
  await rejects(deployments.updateCode('settling', { zipFile: code('return 2;') }), 'RESOURCE_CONFLICT');
  // Tags, versions and aliases are not refused meanwhile.
  await deployments.tag('settling', { a: '1' });
  settle();
  await rejects(
    deployments.updateConfiguration('settling', { timeout: 10, revisionId: fn.settledRevisionId }),
    'PRECONDITION_FAILED',
    /does not match the latest Revision Id/,
  );
  const current = latestRevisionId((await deployments.get('settling'))!, clock);
  const updated = await deployments.updateConfiguration('settling', { timeout: 10, environment: { MODE: 'x' }, revisionId: current });
  expect(updated.latest).toMatchObject({ timeout: 10, environment: { MODE: 'x' }, memorySize: 128, modifiedAt: clock });
  expect(updated).toMatchObject({ lastChange: 'update', settlesAt: clock + SETTLE_MS });
  expect(updated.latest.revisionId).not.toBe(current);
  settle();
  await rejects(deployments.updateConfiguration('settling', { handler: 'other.handler' }), 'INVALID_PARAMETER', /other\{\.js/);
  await rejects(
    deployments.updateConfiguration('absent', { timeout: 5 }),
    'FUNCTION_NOT_FOUND',
    'Function not found: arn:aws:lambda:eu-west-1:000000000000:function:absent',
  );
});

it('keeps a code blob while $LATEST or a version uses it, and removes everything on delete; a re-create clears the tombstone', async () => {
  await deployments.create(input('coded'));
  settle();
  await deployments.updateCode('coded', { zipFile: code('return 2;') });
  expect(await codeKeys('coded')).toHaveLength(1);
  settle();
  const published = await deployments.updateCode('coded', { zipFile: code('return 3;'), publish: true });
  expect(published.versions['1']?.codeSha256).toBe(published.latest.codeSha256);
  settle();
  await deployments.updateCode('coded', { zipFile: code('return 4;') });
  expect(await codeKeys('coded')).toHaveLength(2);
  expect(await store.getCode('coded', published.latest.codeSha256)).toEqual(code('return 3;'));
  await deployments.delete('coded');
  expect(await deployments.get('coded')).toBeUndefined();
  expect(await codeKeys('coded')).toEqual([]);
  expect(await store.deletedAt('coded')).toBeDefined();
  await rejects(deployments.delete('coded'), 'FUNCTION_NOT_FOUND');
  await deployments.create(input('coded'));
  expect(await store.deletedAt('coded')).toBeUndefined();
});

it('numbers published versions from 1, never reuses one, and publishes nothing new when $LATEST has not changed', async () => {
  const created = await deployments.create(input('versioned', { publish: true }));
  expect(Object.keys(created.versions)).toEqual(['1']);
  const before = (await deployments.get('versioned'))!;
  const same = await deployments.publishVersion('versioned', {});
  expect(same.version).toEqual(before.versions['1']);
  // Nothing written: the document is as it was.
  expect(same.fn).toEqual(before);
  await rejects(deployments.publishVersion('versioned', { codeSha256: 'bm9wZQ==' }), 'INVALID_PARAMETER', /is different from current CodeSHA256/);
  settle();
  const bigger = await deployments.updateConfiguration('versioned', { memorySize: 256 });
  const two = await deployments.publishVersion('versioned', { description: 'bigger' });
  expect(two.version).toMatchObject({ version: '2', memorySize: 256, description: 'bigger' });
  expect(two.version.revisionId).not.toBe(two.fn.latest.revisionId);
  // $LATEST gets a new revision too.
  expect(two.fn.latest.revisionId).not.toBe(bigger.latest.revisionId);
  expect(two.fn.settledRevisionId).not.toBe(bigger.settledRevisionId);
  await rejects(deployments.delete('versioned', '$LATEST'), 'INVALID_PARAMETER');
  await rejects(deployments.delete('versioned', '7'), 'FUNCTION_NOT_FOUND', /function:versioned:7$/);
  await deployments.delete('versioned', '2');
  settle();
  await deployments.updateConfiguration('versioned', { memorySize: 512 });
  expect((await deployments.publishVersion('versioned', {})).version.version).toBe('3');
});

it('applies aliases’ rules: versions that exist, one weighted extra version, no version deleted while routed to', async () => {
  await deployments.create(input('aliased', { publish: true }));
  settle();
  await deployments.updateConfiguration('aliased', { timeout: 9 });
  await deployments.publishVersion('aliased', {});
  const live = await deployments.createAlias('aliased', { name: 'live', functionVersion: '1', additionalVersionWeights: { '2': 0.25 } });
  expect(live).toMatchObject({ name: 'live', functionVersion: '1', additionalVersionWeights: { '2': 0.25 }, description: '' });
  await rejects(
    deployments.createAlias('aliased', { name: 'live', functionVersion: '1' }),
    'RESOURCE_CONFLICT',
    'Alias already exists: arn:aws:lambda:eu-west-1:000000000000:function:aliased:live',
  );
  await rejects(deployments.createAlias('aliased', { name: 'ghost', functionVersion: '9' }), 'FUNCTION_NOT_FOUND');
  await rejects(deployments.createAlias('aliased', { name: '123', functionVersion: '1' }), 'INVALID_PARAMETER');
  await rejects(deployments.createAlias('aliased', { name: 'w', functionVersion: '1', additionalVersionWeights: { '2': 1.5 } }), 'INVALID_PARAMETER');
  await rejects(deployments.createAlias('aliased', { name: 'w', functionVersion: '1', additionalVersionWeights: { '1': 0.5 } }), 'INVALID_PARAMETER');
  await rejects(deployments.createAlias('aliased', { name: 'w', functionVersion: '$LATEST', additionalVersionWeights: { '2': 0.5 } }), 'INVALID_PARAMETER');
  await rejects(deployments.createAlias('aliased', { name: 'w', functionVersion: '1', additionalVersionWeights: { '2': 0.1, '3': 0.1 } }), 'INVALID_PARAMETER');
  await rejects(deployments.createAlias('aliased', { name: 'w', functionVersion: '1', additionalVersionWeights: { '5': 0.1 } }), 'FUNCTION_NOT_FOUND');
  expect(await deployments.createAlias('aliased', { name: 'dev', functionVersion: '$LATEST' })).toMatchObject({ functionVersion: '$LATEST' });

  await rejects(deployments.delete('aliased', '2'), 'RESOURCE_CONFLICT', /aliases reference it: \[live\]/);
  await rejects(deployments.delete('aliased', '1'), 'RESOURCE_CONFLICT');
  await rejects(deployments.updateAlias('aliased', 'live', { functionVersion: '2', revisionId: 'stale' }), 'PRECONDITION_FAILED');
  const moved = await deployments.updateAlias('aliased', 'live', { functionVersion: '2', additionalVersionWeights: {}, revisionId: live.revisionId });
  expect(moved).toMatchObject({ functionVersion: '2', additionalVersionWeights: {} });
  expect(moved.revisionId).not.toBe(live.revisionId);
  await deployments.delete('aliased', '1');
  await rejects(deployments.updateAlias('aliased', 'nope', {}), 'NOT_FOUND', 'Alias not found: arn:aws:lambda:eu-west-1:000000000000:function:aliased:nope');
  await deployments.deleteAlias('aliased', 'live');
  await rejects(deployments.deleteAlias('aliased', 'live'), 'NOT_FOUND');
  expect(Object.keys((await deployments.get('aliased'))!.aliases)).toEqual(['dev']);
});

it('sets and removes reserved concurrency (0–1000), a change of the function’s revision', async () => {
  await deployments.create(input('limited'));
  settle();
  const before = (await deployments.get('limited'))!;
  expect(await deployments.putConcurrency('limited', 0)).toBe(0);
  const limited = (await deployments.get('limited'))!;
  expect(limited.reservedConcurrency).toBe(0);
  expect(latestRevisionId(limited, clock)).not.toBe(latestRevisionId(before, clock));
  await rejects(deployments.putConcurrency('limited', 1001), 'INVALID_PARAMETER');
  await rejects(deployments.putConcurrency('limited', -1), 'INVALID_PARAMETER');
  await deployments.deleteConcurrency('limited');
  expect((await deployments.get('limited'))!.reservedConcurrency).toBeUndefined();
  await rejects(deployments.putConcurrency('absent', 5), 'FUNCTION_NOT_FOUND');
});

it('applies 20 concurrent tag calls, losing none; untag removes keys', async () => {
  await deployments.create(input('tagged'));
  await Promise.all(Array.from({ length: 20 }, (_, i) => deployments.tag('tagged', { [`key${i}`]: String(i) })));
  const tags = (await deployments.get('tagged'))!.tags;
  expect(Object.keys(tags).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `key${i}`).sort());
  await deployments.untag('tagged', ['key0', 'key1']);
  expect(Object.keys((await deployments.get('tagged'))!.tags)).toHaveLength(18);
});

it('refuses every change to a folder function’s name', async () => {
  const folder = 'folder-fn';
  const calls: Array<Promise<unknown>> = [
    deployments.updateCode(folder, { zipFile: code() }),
    deployments.updateConfiguration(folder, { timeout: 5 }),
    deployments.delete(folder),
    deployments.publishVersion(folder, {}),
    deployments.createAlias(folder, { name: 'a', functionVersion: '$LATEST' }),
    deployments.updateAlias(folder, 'a', {}),
    deployments.deleteAlias(folder, 'a'),
    deployments.putConcurrency(folder, 1),
    deployments.deleteConcurrency(folder),
    deployments.tag(folder, { a: 'b' }),
    deployments.untag(folder, ['a']),
  ];
  for (const call of calls) await rejects(call, 'RESOURCE_CONFLICT', /managed by its folder \(INVOQ_FUNCTIONS_DIR\)/);
});
