import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DeployedFunction, VersionRecord } from './deployed-function';
import { resolveDeployedVersion } from './deployed-resolution';

const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-resolution-'));
fs.writeFileSync(path.join(directory, 'index.js'), 'exports.handler = async () => 1;');
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

const record = (extra: Partial<VersionRecord> = {}): VersionRecord => ({
  ...{
    version: '$LATEST',
    codeSha256: 'c29tZSBjb2Rl',
    codeSize: 10,
    runtime: 'nodejs22.x',
    handler: 'index.handler',
    role: 'arn:aws:iam::000000000000:role/r',
  },
  ...{ description: '', timeout: 3, memorySize: 128, environment: {}, modifiedAt: 0, revisionId: 'r1' },
  ...extra,
});
const deployed = (tags: Record<string, string> = {}, latest = record()): DeployedFunction => ({
  ...{ name: 'fn', etag: 1, createdAt: 0, latest, settlesAt: 0, lastChange: 'create', settledRevisionId: 'r2' },
  ...{ versions: {}, nextVersion: 1, aliases: {}, tags },
});
const resolve = (tags: Record<string, string>, rec = record()) => resolveDeployedVersion(deployed(tags, rec), rec, directory, 'us-east-1');

describe('resolveDeployedVersion', () => {
  it('locates a Node handler and runs it on a thread by default', () => {
    const fn = resolve({});
    expect(fn).toMatchObject({ handlerFile: path.join(directory, 'index.js'), handlerExport: 'handler', source: 'deployed', timeoutMs: 3000 });
    expect(fn!.config).toMatchObject({ runtime: 'nodejs22.x', handler: 'index.handler' });
    expect(fn!.config.isolation).toBeUndefined();
  });

  it('resolves a Python or custom-runtime version without looking into its code', () => {
    const python = resolve({}, record({ runtime: 'python3.12', handler: 'pkg.app.handler' }));
    expect(python).toMatchObject({ handlerFile: undefined, handlerExport: undefined, directory });
    expect(python!.config).toMatchObject({ runtime: 'python3.12', handler: 'pkg.app.handler' });
    const custom = resolve({}, record({ runtime: 'provided.al2023', handler: 'whatever' }));
    expect(custom).toMatchObject({ handlerFile: undefined });
    expect(custom!.config.runtime).toBe('provided.al2023');
  });

  it('takes a Node function’s isolation from its invoq:isolation tag; the key changes for a process only', () => {
    const thread = resolve({});
    const inProcess = resolve({ 'invoq:isolation': 'process' });
    expect(inProcess!.config.isolation).toBe('process');
    expect(inProcess!.executionKey).not.toBe(thread!.executionKey);
    expect(resolve({ 'invoq:isolation': 'thread' })!.executionKey).toBe(thread!.executionKey);
    expect(resolve({ team: 'a' })!.executionKey).toBe(thread!.executionKey);
    // A value the API refuses (only a hand-edited Redis) is the default.
    expect(resolve({ 'invoq:isolation': 'container' })!.config.isolation).toBeUndefined();
  });

  it('ignores the tag for Python and custom runtimes, which always run as a process', () => {
    const py = record({ runtime: 'python3.12', handler: 'app.handler' });
    const tagged = resolve({ 'invoq:isolation': 'thread' }, py);
    expect(tagged!.config.isolation).toBeUndefined();
    expect(tagged!.executionKey).toBe(resolve({}, py)!.executionKey);
  });

  it('answers undefined for a Node handler whose module is not in the code, or a Python handler not module.function', () => {
    expect(resolve({}, record({ handler: 'missing.handler' }))).toBeUndefined();
    expect(resolve({}, record({ runtime: 'python3.12', handler: 'app' }))).toBeUndefined();
  });
});
