/**
 * Lambda's management API (CreateFunction and the rest) through the AWS SDK v3, unchanged but for
 * the endpoint, against a real API with SigV4 auth on: the shapes and statuses Lambda answers,
 * the lifecycle the SDK's waiters follow, GetFunction's signed code download, and the refusals.
 * Invoking deployed functions is not checked here.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  DeleteAliasCommand,
  DeleteFunctionCommand,
  DeleteFunctionConcurrencyCommand,
  GetAccountSettingsCommand,
  GetAliasCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  ListAliasesCommand,
  ListFunctionsCommand,
  ListTagsCommand,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAliasCommand,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
  type CreateFunctionCommandInput,
  GetFunctionCodeSigningConfigCommand,
  type Runtime,
} from '@aws-sdk/client-lambda';
import { FunctionStore, createRedisConnection, closeRedis, signedCodePath, type RedisClient } from '@invoq/core';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix } from '../support/harness';
import { makeZip } from '../support/zip-files';
import { failure } from '../support/sdk-failure';

const functionsDir = makeFunctionsDir({
  folderfn: { config: { handler: 'index.handler', reservedConcurrency: 2 }, files: { 'index.js': 'exports.handler = async (event) => event;' } },
});
const prefix = uniquePrefix('mgmt');
const user = { accessKeyId: 'AKIDMGMTUSER', secretAccessKey: 'user-secret' };
const admin = { accessKeyId: 'AKIDMGMTADMIN', secretAccessKey: 'admin-secret' };
/** An admin API key, for what the SDK will not send (a malformed body). */
const ADMIN_KEY = 'mgmt-admin-key';
const MAX_CODE_BYTES = 64 * 1024;
const MAX_ENVIRONMENTS = 12;
const region = 'us-east-1';
const arnOf = (name: string) => `arn:aws:lambda:${region}:000000000000:function:${name}`;
const ROLE = 'arn:aws:iam::000000000000:role/lambda-role';

let api: ApiService;
let endpoint: string;
let redis: RedisClient;
let store: FunctionStore;
const clients: LambdaClient[] = [];

beforeAll(async () => {
  const config = testConfig({
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: prefix,
    INVOQ_AWS_CREDENTIALS: `${user.accessKeyId}:${user.secretAccessKey},${admin.accessKeyId}:${admin.secretAccessKey}:admin`,
    INVOQ_ADMIN_KEYS: ADMIN_KEY,
    INVOQ_MAX_CODE_BYTES: String(MAX_CODE_BYTES),
    INVOQ_MAX_ENVIRONMENTS: String(MAX_ENVIRONMENTS),
    INVOQ_CODE_CACHE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-mgmt-code-')),
  });
  api = await startApi(config, silentLogger());
  endpoint = `http://127.0.0.1:${api.port}`;
  redis = createRedisConnection({ kind: 'standalone', url: testRedisUrl() });
  store = new FunctionStore(redis, prefix);
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await api?.close();
  if (redis) await closeRedis(redis);
});

// One attempt: the SDK retries 429 and 5xx by default, which would hide what the API said.
const client = (credentials = admin) => {
  const c = new LambdaClient({ endpoint, region, credentials, maxAttempts: 1 });
  clients.push(c);
  return c;
};
const expectFailure = async (promise: Promise<unknown>, name: string, status: number, message?: RegExp) => {
  const error = await failure(promise);
  expect([error.name, error.$metadata.httpStatusCode]).toEqual([name, status]);
  if (message) expect(error.message).toMatch(message);
  return error;
};
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');
const waiter = () => ({ client: client(), maxWaitTime: 30, minDelay: 1, maxDelay: 1 });

const codeV1 = makeZip([
  { name: 'index.js', content: 'const dep = require("dep"); exports.handler = async () => dep.answer();', mode: 0o644 },
  {
    name: 'node_modules/dep/index.js',
    content: 'exports.answer = () => require("fs").readFileSync(__dirname + "/../../data/answer.txt", "utf8");',
    mode: 0o644,
  },
  { name: 'data/answer.txt', content: '42', mode: 0o644 },
]);
const codeV2 = makeZip([{ name: 'index.js', content: 'exports.handler = async () => "v2";', mode: 0o644 }]);
/**
 * A small zip whose headers say its one (deflated) entry unzips to `bytes`: refused before
 * anything is extracted, as a zip of that much code would be, without building one.
 */
function declaringUnzippedSize(bytes: number): Buffer {
  const zip = makeZip([{ name: 'index.js', content: 'exports.handler = async () => 1;' }]);
  // The uncompressed size: 22 bytes into a local header (PK\x03\x04), 24 into a central one (PK\x01\x02).
  for (let at = 0; at < zip.length - 4; at++) {
    const signature = zip.readUInt32LE(at);
    if (signature === 0x04034b50) zip.writeUInt32LE(bytes, at + 22);
    if (signature === 0x02014b50) zip.writeUInt32LE(bytes, at + 24);
  }
  return zip;
}

const createInput = (name: string, extra: Partial<CreateFunctionCommandInput> = {}): CreateFunctionCommandInput => ({
  FunctionName: name,
  Runtime: 'nodejs22.x',
  Role: ROLE,
  Handler: 'index.handler',
  Code: { ZipFile: codeV1 },
  ...extra,
});

describe('a function through its life', () => {
  const name = 'mgmt-life';

  it('CreateFunction answers 201, Pending; the SDK waits until Active; changes during the settle are refused', async () => {
    const created = await client().send(
      new CreateFunctionCommand(
        createInput(name, { Description: 'first', Timeout: 5, MemorySize: 256, Environment: { Variables: { GREETING: 'hi' } }, Tags: { team: 'core' } }),
      ),
    );
    expect(created.$metadata.httpStatusCode).toBe(201);
    expect(created).toMatchObject({
      FunctionName: name,
      FunctionArn: arnOf(name),
      Runtime: 'nodejs22.x',
      Role: ROLE,
      Handler: 'index.handler',
      CodeSize: codeV1.length,
      CodeSha256: sha256(codeV1),
      Description: 'first',
      Timeout: 5,
      MemorySize: 256,
      Version: '$LATEST',
      State: 'Pending',
      StateReasonCode: 'Creating',
      PackageType: 'Zip',
      Architectures: [process.arch === 'arm64' ? 'arm64' : 'x86_64'],
      Environment: { Variables: { GREETING: 'hi' } },
    });
    expect(created.LastUpdateStatus).toBeUndefined();
    expect(created.LastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    expect(created.RevisionId).toMatch(/^[0-9a-f-]{36}$/);

    await expectFailure(
      client().send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: 'too soon' })),
      'ResourceConflictException',
      409,
      /An update is in progress for resource: /,
    );
    expect((await waitUntilFunctionActiveV2(waiter(), { FunctionName: name })).state).toBe('SUCCESS');

    const got = await client().send(new GetFunctionCommand({ FunctionName: name }));
    expect(got.Configuration).toMatchObject({ State: 'Active', LastUpdateStatus: 'Successful', FunctionArn: arnOf(name) });
    expect(got.Configuration?.RevisionId).not.toBe(created.RevisionId);
    expect(got.Tags).toEqual({ team: 'core' });
    expect(got.Concurrency).toBeUndefined();
    expect(got.Code?.RepositoryType).toBe('S3');
    expect(got.Code?.Location).toMatch(new RegExp(`^${endpoint}/invoq/code/${name}/[0-9a-f]{64}\\?expires=\\d+&signature=[0-9a-f]{64}$`));
  });

  it('shows Environment only to admin keys; GetFunction and GetFunctionConfiguration stay open to any key', async () => {
    const asUser = await client(user).send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    expect(asUser.Environment).toBeUndefined();
    expect(asUser.FunctionName).toBe(name);
    const asAdmin = await client().send(new GetFunctionConfigurationCommand({ FunctionName: arnOf(name) }));
    expect(asAdmin.Environment).toEqual({ Variables: { GREETING: 'hi' } });
    const listed = await client(user).send(new ListFunctionsCommand({}));
    expect(listed.Functions?.map((f) => f.FunctionName)).toEqual(expect.arrayContaining(['folderfn', name]));
    expect(listed.Functions?.find((f) => f.FunctionName === name)?.Environment).toBeUndefined();
  });

  it('Code.Location downloads the zip without credentials until it expires; a forged or expired URL is 403', async () => {
    const location = (await client(user).send(new GetFunctionCommand({ FunctionName: name }))).Code!.Location!;
    const res = await fetch(location);
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/zip']);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(sha256(bytes)).toBe((await client().send(new GetFunctionConfigurationCommand({ FunctionName: name }))).CodeSha256);

    const forged = location.replace(/signature=([0-9a-f])/, (_m, c: string) => `signature=${c === '0' ? '1' : '0'}`);
    const refused = await fetch(forged);
    expect([refused.status, refused.headers.get('x-amzn-errortype')]).toEqual([403, 'AccessDeniedException']);
    expect(await refused.json()).toEqual({ Type: 'User', Message: 'The code URL is invalid' });
    // Signed with the shared key, but 11 minutes ago: valid 10.
    const expired = await fetch(`${endpoint}${signedCodePath(await store.codeUrlKey(), name, sha256(codeV1), Date.now() - 11 * 60_000)}`);
    expect([expired.status, ((await expired.json()) as { Message: string }).Message]).toEqual([403, 'The code URL has expired']);
    // Another function's name with this one's signature.
    const moved = await fetch(location.replace(`/invoq/code/${name}/`, '/invoq/code/folderfn/'));
    expect(moved.status).toBe(403);
  });

  it('UpdateFunctionConfiguration: a stale RevisionId is 412; otherwise InProgress until the SDK sees it Successful', async () => {
    const current = await client().send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    await expectFailure(
      client().send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: 'second', RevisionId: '00000000-0000-0000-0000-000000000000' })),
      'PreconditionFailedException',
      412,
      /Revision Id provided does not match/,
    );
    const updated = await client().send(
      new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: 'second', Timeout: 7, RevisionId: current.RevisionId }),
    );
    expect(updated).toMatchObject({ Description: 'second', Timeout: 7, MemorySize: 256, State: 'Active', LastUpdateStatus: 'InProgress' });
    expect((await waitUntilFunctionUpdatedV2(waiter(), { FunctionName: name })).state).toBe('SUCCESS');
    expect((await client().send(new GetFunctionConfigurationCommand({ FunctionName: name }))).LastUpdateStatus).toBe('Successful');
  });

  it('UpdateFunctionCode replaces the zip: a new CodeSha256, then Successful', async () => {
    const updated = await client().send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: codeV2 }));
    expect(updated).toMatchObject({ CodeSha256: sha256(codeV2), CodeSize: codeV2.length, LastUpdateStatus: 'InProgress', Description: 'second' });
    await waitUntilFunctionUpdatedV2(waiter(), { FunctionName: name });
  });

  it('PublishVersion answers 201 with version 1; qualifiers name it, $LATEST, or nothing ($latest is 404)', async () => {
    const published = await client().send(new PublishVersionCommand({ FunctionName: name, Description: 'release one' }));
    expect(published.$metadata.httpStatusCode).toBe(201);
    expect(published).toMatchObject({ Version: '1', FunctionArn: `${arnOf(name)}:1`, CodeSha256: sha256(codeV2), Description: 'release one' });
    // Unchanged `$LATEST`: the same version again.
    expect((await client().send(new PublishVersionCommand({ FunctionName: name }))).Version).toBe('1');

    const byQualifier = (Qualifier?: string) => client().send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier }));
    expect((await byQualifier('$LATEST')).FunctionArn).toBe(`${arnOf(name)}:$LATEST`);
    expect(await byQualifier('1')).toMatchObject({ FunctionArn: `${arnOf(name)}:1`, Version: '1' });
    expect((await client().send(new GetFunctionCommand({ FunctionName: `${name}:1` }))).Configuration?.Version).toBe('1');
    await expectFailure(byQualifier('$latest'), 'ResourceNotFoundException', 404);
    await expectFailure(byQualifier('9'), 'ResourceNotFoundException', 404, new RegExp(`Function not found: ${arnOf(name)}:9`));
  });

  it('lists versions ($LATEST first) and, with FunctionVersion=ALL, every function’s versions', async () => {
    // Description alone is no new version (it is not part of what runs): the timeout is.
    await client().send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Description: 'third', Timeout: 9 }));
    await waitUntilFunctionUpdatedV2(waiter(), { FunctionName: name });
    expect((await client().send(new PublishVersionCommand({ FunctionName: name }))).Version).toBe('2');

    const versions = await client().send(new ListVersionsByFunctionCommand({ FunctionName: name }));
    expect(versions.Versions?.map((v) => [v.Version, v.FunctionArn])).toEqual([
      ['$LATEST', `${arnOf(name)}:$LATEST`],
      ['1', `${arnOf(name)}:1`],
      ['2', `${arnOf(name)}:2`],
    ]);
    const firstPage = await client().send(new ListVersionsByFunctionCommand({ FunctionName: name, MaxItems: 2 }));
    const secondPage = await client().send(new ListVersionsByFunctionCommand({ FunctionName: name, Marker: firstPage.NextMarker }));
    expect([...firstPage.Versions!, ...secondPage.Versions!].map((v) => v.Version)).toEqual(['$LATEST', '1', '2']);

    const all = await client().send(new ListFunctionsCommand({ FunctionVersion: 'ALL' }));
    expect(all.Functions?.filter((f) => f.FunctionName === name).map((f) => f.Version)).toEqual(['$LATEST', '1', '2']);
    expect(all.Functions?.filter((f) => f.FunctionName === 'folderfn').map((f) => f.Version)).toEqual(['$LATEST']);
    const latestOnly = await client().send(new ListFunctionsCommand({}));
    expect(latestOnly.Functions?.filter((f) => f.FunctionName === name).map((f) => f.Version)).toEqual(['$LATEST']);
  });

  it('aliases: 201 with their routing weights, read, updated (stale RevisionId 412), listed by version, deleted', async () => {
    const created = await client().send(
      new CreateAliasCommand({
        FunctionName: name,
        Name: 'live',
        FunctionVersion: '1',
        Description: 'prod',
        RoutingConfig: { AdditionalVersionWeights: { '2': 0.25 } },
      }),
    );
    expect(created.$metadata.httpStatusCode).toBe(201);
    expect(created).toMatchObject({
      AliasArn: `${arnOf(name)}:live`,
      Name: 'live',
      FunctionVersion: '1',
      Description: 'prod',
      RoutingConfig: { AdditionalVersionWeights: { '2': 0.25 } },
    });
    await expectFailure(
      client().send(new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '1' })),
      'ResourceConflictException',
      409,
      /Alias already exists/,
    );
    expect(await client().send(new GetAliasCommand({ FunctionName: name, Name: 'live' }))).toMatchObject({ RevisionId: created.RevisionId });
    // GetFunction through the alias: its version, the alias in the ARN.
    expect((await client().send(new GetFunctionConfigurationCommand({ FunctionName: name, Qualifier: 'live' }))).Version).toBe('1');

    await expectFailure(
      client().send(new UpdateAliasCommand({ FunctionName: name, Name: 'live', Description: 'x', RevisionId: '00000000-0000-0000-0000-000000000000' })),
      'PreconditionFailedException',
      412,
    );
    const updated = await client().send(
      new UpdateAliasCommand({
        FunctionName: name,
        Name: 'live',
        FunctionVersion: '2',
        RoutingConfig: { AdditionalVersionWeights: {} },
        RevisionId: created.RevisionId,
      }),
    );
    expect(updated).toMatchObject({ FunctionVersion: '2', Description: 'prod' });
    expect(updated.RoutingConfig).toBeUndefined();
    await client().send(new CreateAliasCommand({ FunctionName: name, Name: 'beta', FunctionVersion: '1' }));
    expect((await client().send(new ListAliasesCommand({ FunctionName: name }))).Aliases?.map((a) => a.Name)).toEqual(['beta', 'live']);
    expect((await client().send(new ListAliasesCommand({ FunctionName: name, FunctionVersion: '1' }))).Aliases?.map((a) => a.Name)).toEqual(['beta']);

    const deleted = await client().send(new DeleteAliasCommand({ FunctionName: name, Name: 'beta' }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    await expectFailure(
      client().send(new GetAliasCommand({ FunctionName: name, Name: 'beta' })),
      'ResourceNotFoundException',
      404,
      /Alias not found: .*:beta$/,
    );
  });

  it('reserved concurrency: put, read (also in GetFunction and the account settings), deleted; a folder function keeps its function.json’s', async () => {
    expect((await client().send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 3 }))).ReservedConcurrentExecutions).toBe(
      3,
    );
    expect((await client().send(new GetFunctionConcurrencyCommand({ FunctionName: name }))).ReservedConcurrentExecutions).toBe(3);
    expect((await client().send(new GetFunctionCommand({ FunctionName: name }))).Concurrency).toEqual({ ReservedConcurrentExecutions: 3 });
    const settings = await client(user).send(new GetAccountSettingsCommand({}));
    expect(settings.AccountLimit?.UnreservedConcurrentExecutions).toBe(MAX_ENVIRONMENTS - 3 - 2);

    const deleted = await client().send(new DeleteFunctionConcurrencyCommand({ FunctionName: name }));
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    expect((await client().send(new GetFunctionConcurrencyCommand({ FunctionName: name }))).ReservedConcurrentExecutions).toBeUndefined();

    expect((await client().send(new GetFunctionConcurrencyCommand({ FunctionName: 'folderfn' }))).ReservedConcurrentExecutions).toBe(2);
    await expectFailure(
      client().send(new PutFunctionConcurrencyCommand({ FunctionName: 'folderfn', ReservedConcurrentExecutions: 1 })),
      'ResourceConflictException',
      409,
      /folderfn is managed by its folder/,
    );
    await expectFailure(client().send(new DeleteFunctionConcurrencyCommand({ FunctionName: 'folderfn' })), 'ResourceConflictException', 409);
  });

  it('tags by function ARN: added, listed, removed; a version or alias ARN is refused', async () => {
    const tagged = await client().send(new TagResourceCommand({ Resource: arnOf(name), Tags: { env: 'test', owner: 'me' } }));
    expect(tagged.$metadata.httpStatusCode).toBe(204);
    expect((await client().send(new ListTagsCommand({ Resource: arnOf(name) }))).Tags).toEqual({ team: 'core', env: 'test', owner: 'me' });
    const untagged = await client().send(new UntagResourceCommand({ Resource: arnOf(name), TagKeys: ['team', 'owner'] }));
    expect(untagged.$metadata.httpStatusCode).toBe(204);
    expect((await client().send(new ListTagsCommand({ Resource: arnOf(name) }))).Tags).toEqual({ env: 'test' });
    for (const qualified of [`${arnOf(name)}:1`, `${arnOf(name)}:live`]) {
      await expectFailure(
        client().send(new TagResourceCommand({ Resource: qualified, Tags: { a: 'b' } })),
        'InvalidParameterValueException',
        400,
        /aliases and versions are not supported/,
      );
    }
  });

  it('GetFunctionCodeSigningConfig: none, for a deployed or a folder function (Terraform reads it); unknown: 404', async () => {
    for (const fn of [name, 'folderfn']) {
      expect(await client(user).send(new GetFunctionCodeSigningConfigCommand({ FunctionName: fn }))).toMatchObject({
        CodeSigningConfigArn: '',
        FunctionName: fn,
      });
    }
    await expectFailure(client().send(new GetFunctionCodeSigningConfigCommand({ FunctionName: 'mgmt-nope' })), 'ResourceNotFoundException', 404);
  });

  it('GetAccountSettings (any key): the limits and what the deployed code uses', async () => {
    const settings = await client(user).send(new GetAccountSettingsCommand({}));
    const fn = (await client().send(new ListVersionsByFunctionCommand({ FunctionName: name }))).Versions!;
    const deployedCount = (await client().send(new ListFunctionsCommand({}))).Functions!.length - 1;
    expect(settings.AccountLimit).toEqual({
      TotalCodeSize: 80_530_636_800,
      CodeSizeUnzipped: 262_144_000,
      CodeSizeZipped: MAX_CODE_BYTES,
      ConcurrentExecutions: MAX_ENVIRONMENTS,
      UnreservedConcurrentExecutions: MAX_ENVIRONMENTS - 2,
    });
    expect(settings.AccountUsage?.FunctionCount).toBe(1 + deployedCount);
    // This function's versions count each; other tests' functions add theirs.
    expect(settings.AccountUsage?.TotalCodeSize).toBeGreaterThanOrEqual(fn.reduce((sum, v) => sum + v.CodeSize!, 0));
    const trailing = await fetch(`${endpoint}/2016-08-19/account-settings/`, { headers: { authorization: 'Bearer nobody' } });
    expect(trailing.status).toBe(403);
  });

  it('DeleteFunction of a version (204), then of the function (204): then it is not found', async () => {
    await client().send(new DeleteAliasCommand({ FunctionName: name, Name: 'live' }));
    const version = await client().send(new DeleteFunctionCommand({ FunctionName: name, Qualifier: '1' }));
    expect(version.$metadata.httpStatusCode).toBe(204);
    expect((await client().send(new ListVersionsByFunctionCommand({ FunctionName: name }))).Versions?.map((v) => v.Version)).toEqual(['$LATEST', '2']);
    const whole = await client().send(new DeleteFunctionCommand({ FunctionName: name }));
    expect(whole.$metadata.httpStatusCode).toBe(204);
    await expectFailure(
      client().send(new GetFunctionCommand({ FunctionName: name })),
      'ResourceNotFoundException',
      404,
      new RegExp(`Function not found: ${arnOf(name)}$`),
    );
    await expectFailure(client().send(new DeleteFunctionCommand({ FunctionName: name })), 'ResourceNotFoundException', 404);
  });
});

describe('refusals', () => {
  it('an existing name, a folder function’s name', async () => {
    await client().send(new CreateFunctionCommand(createInput('mgmt-taken')));
    await expectFailure(
      client().send(new CreateFunctionCommand(createInput('mgmt-taken'))),
      'ResourceConflictException',
      409,
      /Function already exist: mgmt-taken/,
    );
    await expectFailure(
      client().send(new CreateFunctionCommand(createInput('folderfn'))),
      'ResourceConflictException',
      409,
      /Function folderfn is managed by its folder \(INVOQ_FUNCTIONS_DIR\)/,
    );
    await expectFailure(client().send(new UpdateFunctionCodeCommand({ FunctionName: 'folderfn', ZipFile: codeV2 })), 'ResourceConflictException', 409);
  });

  it('a key that is not an admin key: 403 on every change and on the new reads', async () => {
    const asUser = client(user);
    const calls: Array<() => Promise<unknown>> = [
      () => asUser.send(new CreateFunctionCommand(createInput('mgmt-user'))),
      () => asUser.send(new UpdateFunctionCodeCommand({ FunctionName: 'mgmt-taken', ZipFile: codeV2 })),
      () => asUser.send(new DeleteFunctionCommand({ FunctionName: 'mgmt-taken' })),
      () => asUser.send(new PublishVersionCommand({ FunctionName: 'mgmt-taken' })),
      () => asUser.send(new ListAliasesCommand({ FunctionName: 'mgmt-taken' })),
      () => asUser.send(new PutFunctionConcurrencyCommand({ FunctionName: 'mgmt-taken', ReservedConcurrentExecutions: 1 })),
      () => asUser.send(new ListTagsCommand({ Resource: arnOf('mgmt-taken') })),
    ];
    for (const call of calls) await expectFailure(call(), 'AccessDeniedException', 403, /admin key/);
  });

  it.each([
    ['not a zip', Buffer.from('this is not a zip file'), /Could not unzip uploaded file/],
    [
      'an entry climbing out with ../',
      makeZip([
        { name: 'index.js', content: 'exports.handler = async () => 1;' },
        { name: '../evil.js', content: 'x' },
      ]),
      /Could not unzip/,
    ],
    [
      'a symlink pointing out of the code',
      makeZip([
        { name: 'index.js', content: 'exports.handler = async () => 1;' },
        { name: 'passwd', symlinkTo: '/etc/passwd' },
      ]),
      /Could not unzip/,
    ],
    [
      'without the handler’s module (index.handler, the zip holds main.js)',
      makeZip([{ name: 'main.js', content: 'exports.handler = async () => 1;' }]),
      /The handler index\.handler cannot be found.*index\{\.js,\.cjs,\.mjs\}/,
    ],
    ['over 250 MB once unzipped (as its headers declare it)', declaringUnzippedSize(300 * 1024 * 1024), /^Unzipped size must be smaller than 262144000 bytes/],
  ])('code that is %s: 400 InvalidParameterValueException', async (_what, zip, message) => {
    await expectFailure(
      client().send(new CreateFunctionCommand(createInput('mgmt-badzip', { Code: { ZipFile: zip } }))),
      'InvalidParameterValueException',
      400,
      message,
    );
  });

  it('code over INVOQ_MAX_CODE_BYTES: 413 RequestTooLargeException, whether the zip or the whole body is too large', async () => {
    const big = makeZip([
      { name: 'index.js', content: 'exports.handler = async () => 1;' },
      { name: 'blob.bin', content: Buffer.from(Array.from({ length: MAX_CODE_BYTES * 2 }, (_, i) => (i * 7919) % 251)), level: 0 },
    ]);
    await expectFailure(client().send(new CreateFunctionCommand(createInput('mgmt-big', { Code: { ZipFile: big } }))), 'RequestTooLargeException', 413);
    await expectFailure(client().send(new UpdateFunctionCodeCommand({ FunctionName: 'mgmt-taken', ZipFile: big })), 'RequestTooLargeException', 413);
    // A body beyond even the code reader's limit (the zip's base64 plus 1 MiB of JSON) stops at the reader.
    const huge = await fetch(`${endpoint}/2015-03-31/functions`, { method: 'POST', body: Buffer.alloc(2 * 1024 * 1024, 'a'), headers: { 'x-api-key': 'x' } });
    expect([huge.status, huge.headers.get('x-amzn-errortype')]).toEqual([413, 'RequestTooLargeException']);
    expect(((await huge.json()) as { Message: string }).Message).toMatch(/for the CreateFunction operation$/);
  });

  it.each([
    [
      'runtime java21',
      { Runtime: 'java21' as Runtime },
      /java21 is not supported\. Supported runtimes: nodejs20\.x.*nodejs24\.x, python3\.9.*python3\.13, provided\.al2023, provided\.al2, provided$/,
    ],
    ['Layers', { Layers: ['arn:aws:lambda:us-east-1:123456789012:layer:deps:1'] }, /Layers are not supported by invoq/],
    ['code from S3', { Code: { S3Bucket: 'bucket', S3Key: 'key.zip' } }, /invoq takes code as Code.ZipFile only/],
    ['an image', { PackageType: 'Image' as const, Code: { ImageUri: '123.dkr.ecr.us-east-1.amazonaws.com/x:1' } }, /Code.ZipFile only|Image is not supported/],
    ['another architecture', { Architectures: [process.arch === 'arm64' ? ('x86_64' as const) : ('arm64' as const)] }, /this host's architecture/],
    ['a role that is not a role ARN', { Role: 'lambda-role' }, /Value at 'Role' failed to satisfy constraint/],
  ])('%s: 400 InvalidParameterValueException', async (_what, extra, message) => {
    await expectFailure(client().send(new CreateFunctionCommand(createInput('mgmt-refused', extra))), 'InvalidParameterValueException', 400, message);
  });

  it('a malformed body, over plain HTTP: 400 naming the member', async () => {
    const post = (body: unknown) =>
      fetch(`${endpoint}/2015-03-31/functions`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}` }, body: JSON.stringify(body) });
    const base = { FunctionName: 'mgmt-b64', Runtime: 'nodejs22.x', Role: ROLE, Handler: 'index.handler' };
    const badBase64 = await post({ ...base, Code: { ZipFile: 'not*base64!' } });
    expect([badBase64.status, badBase64.headers.get('x-amzn-errortype')]).toEqual([400, 'InvalidParameterValueException']);
    expect(((await badBase64.json()) as { Message: string }).Message).toMatch(/'Code.ZipFile'.*base64/);
    const badTimeout = await post({ ...base, Timeout: 'long', Code: { ZipFile: codeV1.toString('base64') } });
    expect([badTimeout.status, ((await badTimeout.json()) as { Message: string }).Message]).toEqual([
      400,
      expect.stringMatching(/Value at 'Timeout' failed to satisfy constraint/),
    ]);
    // Members invoq ignores pass, and so do ones a newer SDK may add.
    const ignored = await post({
      ...base,
      FunctionName: 'mgmt-ignored',
      Code: { ZipFile: codeV1.toString('base64') },
      TracingConfig: { Mode: 'Active' },
      SomeFutureMember: 1,
    });
    expect(ignored.status).toBe(201);
  });
});
