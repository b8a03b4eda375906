/**
 * The deploy workflow a user follows with the real AWS CLI v2, unchanged but for the endpoint,
 * against two APIs and a worker (changes through one, every invoke through the other): create, wait, invoke (sync and Event), update code and
 * configuration with the waiters, versions and a weighted alias, GetFunction's code download, the
 * list calls, the refusals as the CLI prints them, and delete. docs/deploy.md walks through the
 * same commands in the same order.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, uniquePrefix, waitFor } from '../support/harness';
import { greeterZip } from '../support/deployable-function';
import { makeZip } from '../support/zip-files';

/** Debian's CLI v2 at /usr/bin/aws: a v1 (pip's) may come first on PATH and speaks differently. */
function awsCliV2(): string | undefined {
  for (const candidate of ['/usr/bin/aws', 'aws']) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.status === 0 && /aws-cli\/2\./.test(result.stdout + result.stderr)) return candidate;
  }
  return undefined;
}

const aws = awsCliV2();
// Decided at collection, so a machine without the CLI reports a skip, not a pass; CI must have it.
const skipCli = !aws && process.env.CI !== 'true';
const cliNote = skipCli ? ' (no AWS CLI v2 on this machine: apt-get install awscli)' : '';
const suite = skipCli ? describe.skip : describe;

const admin = { accessKeyId: 'AKIDCLIADMIN', secretAccessKey: 'cli-admin-secret' };
const user = { accessKeyId: 'AKIDCLIUSER', secretAccessKey: 'cli-user-secret' };
const ROLE = 'arn:aws:iam::000000000000:role/x';
const name = 'cli-greeter';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-cli-deploy-'));
const home = path.join(work, 'home');
const markerDir = path.join(work, 'markers');
fs.mkdirSync(home);
fs.mkdirSync(markerDir);

const writeFile = (file: string, content: Buffer | string) => {
  fs.writeFileSync(path.join(work, file), content);
  return `fileb://${path.join(work, file)}`;
};
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let api: ApiService;
let worker: WorkerService;
let endpoint: string;
/** A second API on the same Redis: every invoke goes through it, so each step shows it followed the change made through the first. */
let apiB: ApiService;
let endpointB: string;

/**
 * Runs `aws <args>` asynchronously (the API runs in this process: a spawnSync would block it).
 * One attempt unless `waiting`, so a refusal is seen once and a bug is not hidden by a retry.
 */
async function cli(args: string[], options: { key?: typeof admin; waiting?: boolean; endpoint?: string } = {}): Promise<CliResult> {
  const key = options.key ?? admin;
  const env: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
  };
  if (!options.waiting) env.AWS_MAX_ATTEMPTS = '1';
  try {
    const out = await promisify(execFile)(aws!, ['lambda', ...args, '--endpoint-url', options.endpoint ?? endpoint, '--output', 'json'], {
      cwd: work,
      encoding: 'utf8',
      env,
      timeout: 30_000,
    });
    return { code: 0, stdout: out.stdout, stderr: out.stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : -1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
/** The CLI's JSON answer, failing with its stderr when it did not exit 0. */
async function cliJson<T = Record<string, unknown>>(args: string[], options?: { key?: typeof admin; waiting?: boolean; endpoint?: string }): Promise<T> {
  const result = await cli(args, options);
  if (result.code !== 0) throw new Error(`aws lambda ${args[0]} exited ${result.code}: ${result.stderr}`);
  return (result.stdout.trim() ? JSON.parse(result.stdout) : {}) as T;
}
/** `aws lambda invoke`: the CLI's answer and the handler's, read from the outfile. */
async function invoke(payload: object, extra: string[] = []): Promise<{ out: Record<string, unknown>; body: Record<string, unknown> }> {
  const outfile = path.join(work, `out-${Math.random().toString(36).slice(2)}.json`);
  const out = await cliJson(
    ['invoke', '--function-name', name, '--cli-binary-format', 'raw-in-base64-out', '--payload', JSON.stringify(payload), ...extra, outfile],
    { endpoint: endpointB },
  );
  const text = fs.readFileSync(outfile, 'utf8');
  return { out, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
const expectRefused = (result: CliResult, exception: string) => {
  // The stderr goes into the comparison so a failure shows what the CLI printed.
  expect({ code: result.code === 0 ? 0 : 'non-zero', names: result.stderr.includes(exception) ? exception : result.stderr }).toEqual({
    code: 'non-zero',
    names: exception,
  });
};

suite(`the aws CLI v2 deploy workflow${cliNote}`, () => {
  const v1 = greeterZip('v1');
  const v2 = greeterZip('v2');
  const v3 = greeterZip('v3');
  let firstRevision: string;

  beforeAll(async () => {
    if (!aws) throw new Error('CI=true but no AWS CLI v2 is installed (.ci/run installs Debian awscli)');
    const config = testConfig({
      INVOQ_FUNCTIONS_DIR: makeFunctionsDir({
        folderfn: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => 1;' } },
      }),
      INVOQ_QUEUE_PREFIX: uniquePrefix('deploy-cli'),
      INVOQ_AWS_CREDENTIALS: `${admin.accessKeyId}:${admin.secretAccessKey}:admin,${user.accessKeyId}:${user.secretAccessKey}`,
      INVOQ_CODE_CACHE_DIR: path.join(work, 'code-cache'),
    });
    api = await startApi(config, silentLogger());
    apiB = await startApi({ ...config, codeCacheDir: path.join(work, 'code-cache-b') }, silentLogger());
    worker = await startWorker({ ...config, codeCacheDir: path.join(work, 'code-cache-worker') }, silentLogger());
    endpoint = `http://127.0.0.1:${api.port}`;
    endpointB = `http://127.0.0.1:${apiB.port}`;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([api?.close(), apiB?.close(), worker?.close()]);
    fs.rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('create-function answers State Pending and the zip’s CodeSha256; function-active-v2 waits for Active', async () => {
    const created = await cliJson([
      'create-function',
      '--function-name',
      name,
      '--runtime',
      'nodejs20.x',
      '--role',
      ROLE,
      '--handler',
      'index.handler',
      '--environment',
      `Variables={MARKER_DIR=${markerDir}}`,
      '--zip-file',
      writeFile('function.zip', v1),
    ]);
    expect(created).toMatchObject({
      FunctionName: name,
      Runtime: 'nodejs20.x',
      Handler: 'index.handler',
      State: 'Pending',
      CodeSha256: sha256(v1),
      Version: '$LATEST',
    });
    firstRevision = created.RevisionId as string;
    expect((await cli(['wait', 'function-active-v2', '--function-name', name], { waiting: true })).code).toBe(0);
    expect(await cliJson(['get-function-configuration', '--function-name', name])).toMatchObject({ State: 'Active', LastUpdateStatus: 'Successful' });
  }, 20_000);

  it('invoke answers the handler’s result on $LATEST; an Event answers 202 and runs on the worker', async () => {
    const sync = await invoke({ x: 1 });
    expect(sync.out).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    expect(sync.out.FunctionError).toBeUndefined();
    expect(sync.body).toEqual({ code: 'v1', greeting: 'hello world', version: '$LATEST', x: 1, suffix: null });

    const event = await invoke({ mark: 'event-1' }, ['--invocation-type', 'Event']);
    expect(event.out).toMatchObject({ StatusCode: 202 });
    const marker = await waitFor(
      () => fs.existsSync(path.join(markerDir, 'event-1')) && fs.readFileSync(path.join(markerDir, 'event-1'), 'utf8'),
      10_000,
      'the event to run',
    );
    expect(JSON.parse(marker)).toMatchObject({ code: 'v1' });
  }, 20_000);

  it('update-function-code answers InProgress; function-updated-v2 waits; invoke answers the new code', async () => {
    const updated = await cliJson(['update-function-code', '--function-name', name, '--zip-file', writeFile('v2.zip', v2)]);
    expect(updated).toMatchObject({ LastUpdateStatus: 'InProgress', CodeSha256: sha256(v2) });
    expect((await cli(['wait', 'function-updated-v2', '--function-name', name], { waiting: true })).code).toBe(0);
    expect((await invoke({})).body).toMatchObject({ code: 'v2' });
  }, 20_000);

  it('update-function-configuration sets the environment and timeout; after the wait invoke sees them', async () => {
    const updated = await cliJson([
      'update-function-configuration',
      '--function-name',
      name,
      '--environment',
      `Variables={MARKER_DIR=${markerDir},SUFFIX=configured}`,
      '--timeout',
      '5',
    ]);
    expect(updated).toMatchObject({ LastUpdateStatus: 'InProgress', Timeout: 5, Environment: { Variables: { SUFFIX: 'configured' } } });
    expect((await cli(['wait', 'function-updated-v2', '--function-name', name], { waiting: true })).code).toBe(0);
    expect((await invoke({})).body).toMatchObject({ code: 'v2', suffix: 'configured' });
  }, 20_000);

  it('publish-version, a weighted alias: --qualifier live runs version 1 or 2, --qualifier 1 runs version 1’s code', async () => {
    expect(await cliJson(['publish-version', '--function-name', name])).toMatchObject({ Version: '1', CodeSha256: sha256(v2) });
    await cliJson(['update-function-code', '--function-name', name, '--zip-file', writeFile('v3.zip', v3)]);
    expect((await cli(['wait', 'function-updated-v2', '--function-name', name], { waiting: true })).code).toBe(0);
    expect(await cliJson(['publish-version', '--function-name', name])).toMatchObject({ Version: '2', CodeSha256: sha256(v3) });

    const alias = await cliJson([
      'create-alias',
      '--function-name',
      name,
      '--name',
      'live',
      '--function-version',
      '1',
      '--routing-config',
      'AdditionalVersionWeights={2=0.5}',
    ]);
    expect(alias).toMatchObject({ Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } });

    // Each invocation chooses; whichever version ran, its code answered.
    const runs = await Promise.all([1, 2, 3, 4].map(() => invoke({}, ['--qualifier', 'live'])));
    for (const run of runs) {
      expect(['1', '2']).toContain(run.out.ExecutedVersion);
      expect(run.body.code).toBe(run.out.ExecutedVersion === '1' ? 'v2' : 'v3');
    }
    const pinned = await invoke({}, ['--qualifier', '1']);
    expect(pinned.out).toMatchObject({ ExecutedVersion: '1' });
    expect(pinned.body).toMatchObject({ code: 'v2', suffix: 'configured' });
  }, 30_000);

  it('get-function’s Code.Location downloads the zip whose SHA-256 is Configuration.CodeSha256', async () => {
    const got = await cliJson<{ Configuration: { CodeSha256: string }; Code: { RepositoryType: string; Location: string } }>([
      'get-function',
      '--function-name',
      name,
    ]);
    expect(got.Code.RepositoryType).toBe('S3');
    const download = await fetch(got.Code.Location);
    expect(download.status).toBe(200);
    const zip = Buffer.from(await download.arrayBuffer());
    expect(sha256(zip)).toBe(got.Configuration.CodeSha256);
    expect(got.Configuration.CodeSha256).toBe(sha256(v3));
  }, 20_000);

  it('list-functions, list-versions-by-function, list-aliases and get-account-settings', async () => {
    const [functions, versions, aliases, account] = await Promise.all([
      cliJson<{ Functions: Array<{ FunctionName: string; Version: string }> }>(['list-functions']),
      cliJson<{ Versions: Array<{ Version: string; CodeSha256: string }> }>(['list-versions-by-function', '--function-name', name]),
      cliJson<{ Aliases: Array<{ Name: string; FunctionVersion: string }> }>(['list-aliases', '--function-name', name]),
      cliJson<{ AccountLimit: Record<string, number>; AccountUsage: { FunctionCount: number; TotalCodeSize: number } }>(['get-account-settings']),
    ]);
    // Folder functions are listed too.
    expect(functions.Functions.map((f) => f.FunctionName)).toEqual(expect.arrayContaining([name, 'folderfn']));
    expect(versions.Versions.map((v) => [v.Version, v.CodeSha256])).toEqual([
      ['$LATEST', sha256(v3)],
      ['1', sha256(v2)],
      ['2', sha256(v3)],
    ]);
    expect(aliases.Aliases).toEqual([expect.objectContaining({ Name: 'live', FunctionVersion: '1' })]);
    expect(account.AccountLimit).toEqual(
      expect.objectContaining({
        TotalCodeSize: expect.any(Number),
        CodeSizeZipped: expect.any(Number),
        CodeSizeUnzipped: expect.any(Number),
        ConcurrentExecutions: expect.any(Number),
      }),
    );
    expect(account.AccountUsage.FunctionCount).toBeGreaterThanOrEqual(1);
    expect(account.AccountUsage.TotalCodeSize).toBeGreaterThan(0);
  }, 20_000);

  it('refusals as the CLI shows them: exists, not a zip, an unsafe zip, a user key, a stale revision', async () => {
    const create = (fn: string, zip: string) => [
      'create-function',
      '--function-name',
      fn,
      '--runtime',
      'nodejs20.x',
      '--role',
      ROLE,
      '--handler',
      'index.handler',
      '--zip-file',
      zip,
    ];
    const [exists, notZip, unsafeZip, userKey, stale] = await Promise.all([
      cli(create(name, writeFile('again.zip', v1))),
      cli(create('cli-not-a-zip', writeFile('not-a-zip.txt', 'just text'))),
      cli(create('cli-unsafe', writeFile('unsafe.zip', makeZip([{ name: '../escape.js', content: 'exports.handler = async () => 1;' }])))),
      cli(create('cli-by-user', writeFile('user.zip', v1)), { key: user }),
      cli(['update-function-configuration', '--function-name', name, '--timeout', '7', '--revision-id', firstRevision]),
    ]);
    expectRefused(exists, 'ResourceConflictException');
    // The CLI opens --zip-file itself and refuses what is not a zip before sending anything...
    expectRefused(notZip, '--zip-file must be a zip file');
    // ...so invoq's own refusal is seen with a zip the CLI accepts and invoq does not.
    expectRefused(unsafeZip, 'InvalidParameterValueException');
    expect(unsafeZip.stderr).toContain('../escape.js');
    expectRefused(userKey, 'AccessDeniedException');
    expectRefused(stale, 'PreconditionFailedException');
    // None of them created or changed anything.
    const functions = await cliJson<{ Functions: Array<{ FunctionName: string }> }>(['list-functions']);
    expect(functions.Functions.map((f) => f.FunctionName).filter((n) => n.startsWith('cli-'))).toEqual([name]);
    expect(await cliJson(['get-function-configuration', '--function-name', name])).toMatchObject({ Timeout: 5 });
  }, 20_000);

  it('delete-function; get-function then fails with ResourceNotFoundException', async () => {
    expect((await cli(['delete-function', '--function-name', name])).code).toBe(0);
    expectRefused(await cli(['get-function', '--function-name', name]), 'ResourceNotFoundException');
  }, 20_000);
});
