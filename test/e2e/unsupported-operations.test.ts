/**
 * Lambda API calls invoq does not implement: the AWS SDK v3 and the AWS CLI v2 hear, in Lambda's
 * error shape, which operation is not supported (never ResourceNotFoundException, never a
 * function's page), once (nothing retries it), and only after auth, as on every path.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  AddPermissionCommand,
  GetPolicyCommand,
  GetFunctionUrlConfigCommand,
  GetLayerVersionByArnCommand,
  LambdaClient,
  LambdaServiceException,
  ListEventSourceMappingsCommand,
  ListFunctionsCommand,
  ListLayersCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import pino from 'pino';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { makeFunctionsDir, testConfig, uniquePrefix } from '../support/harness';
import { failure } from '../support/sdk-failure';

const user = { accessKeyId: 'AKIDUNSUP', secretAccessKey: 'unsupported-secret' };
const functionsDir = makeFunctionsDir({
  echo: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (event) => event;' } },
  // A site behind a catch-all route open to anyone: it must never answer a Lambda API path.
  site: {
    config: { handler: 'index.handler', routes: [{ method: 'ANY', path: '/{proxy+}', auth: 'none' }] },
    files: {
      'index.js':
        'exports.handler = async (e) => ({ statusCode: 200, headers: { "content-type": "text/html" }, body: "<html>site page for " + e.path + "</html>" });',
    },
  },
});

/** The API's access lines, to count what reached it. */
const requests: Array<{ method: string; path: string; status: number }> = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void requests.push(JSON.parse(line) as (typeof requests)[number]) });
const received = (p: string) => requests.filter((r) => r.path === p).length;

let api: ApiService;
let endpoint: string;
const clients: LambdaClient[] = [];
beforeAll(async () => {
  api = await startApi(
    testConfig({
      INVOQ_FUNCTIONS_DIR: functionsDir,
      INVOQ_QUEUE_PREFIX: uniquePrefix('unsup'),
      INVOQ_AWS_CREDENTIALS: `${user.accessKeyId}:${user.secretAccessKey}`,
    }),
    logger,
  );
  endpoint = `http://127.0.0.1:${api.port}`;
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await api?.close();
});

// The SDK's default retries (3 attempts): the answer must be one nothing retries.
const client = (credentials = user) => {
  const c = new LambdaClient({ endpoint, region: 'us-east-1', credentials });
  clients.push(c);
  return c;
};

describe('the AWS SDK v3', () => {
  it('raises UnsupportedOperationException naming GetPolicy, after one request', async () => {
    const before = received('/2015-03-31/functions/echo/policy');
    const error = await failure(client().send(new GetPolicyCommand({ FunctionName: 'echo' })));
    expect(error).toBeInstanceOf(LambdaServiceException);
    expect(error).not.toBeInstanceOf(ResourceNotFoundException);
    expect(error.name).toBe('UnsupportedOperationException');
    expect(error.message).toBe('GetPolicy is not supported by invoq');
    expect(error.$fault).toBe('client');
    expect(error.$metadata).toMatchObject({ httpStatusCode: 400, attempts: 1, requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect((error as unknown as { Type: string }).Type).toBe('User');
    expect(received('/2015-03-31/functions/echo/policy') - before).toBe(1);
  });

  it.each([
    ['ListLayers', new ListLayersCommand({})],
    // The same path as ListLayers, told apart by the model's query (?find=LayerVersion).
    ['GetLayerVersionByArn', new GetLayerVersionByArnCommand({ Arn: 'arn:aws:lambda:us-east-1:123456789012:layer:deps:1' })],
    ['GetFunctionUrlConfig', new GetFunctionUrlConfigCommand({ FunctionName: 'echo' })],
    ['AddPermission', new AddPermissionCommand({ FunctionName: 'echo', StatementId: 's1', Action: 'lambda:InvokeFunction', Principal: 's3.amazonaws.com' })],
    ['ListEventSourceMappings', new ListEventSourceMappingsCommand({})],
  ])('names %s', async (name, command) => {
    const error = await failure(client().send(command as GetPolicyCommand));
    expect([error.name, error.message, error.$metadata.attempts]).toEqual(['UnsupportedOperationException', `${name} is not supported by invoq`, 1]);
  });

  it('still gets what invoq serves', async () => {
    const out = await client().send(new ListFunctionsCommand({}));
    expect(out.Functions?.map((f) => f.FunctionName)).toEqual(['echo', 'site']);
  });
});

describe('over plain HTTP', () => {
  const withUnknownKey = (p: string) => fetch(`${endpoint}${p}`, { headers: { authorization: 'Bearer nobody' } });

  it('a path under a Lambda API version that is no operation: a generic answer in Lambda’s shape', async () => {
    // Auth first, as everywhere: an unknown key is refused before anything else.
    const refused = await withUnknownKey('/2015-03-31/nope');
    expect([refused.status, refused.headers.get('x-amzn-errortype')]).toEqual([403, 'UnrecognizedClientException']);
    // What follows the auth, on an API with auth off (loopback, no keys).
    const open = await startApi(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('unsup-open') }), logger);
    try {
      for (const [method, p] of [
        ['GET', '/2015-03-31/nope'],
        ['POST', '/2015-03-31/functions/echo/invocations/x'],
        ['GET', '/2021-10-31'],
        ['PATCH', '/2015-03-31/functions/echo'],
      ]) {
        const res = await fetch(`http://127.0.0.1:${open.port}${p}`, { method });
        expect(res.status).toBe(400);
        expect(res.headers.get('x-amzn-errortype')).toBe('UnsupportedOperationException');
        expect(res.headers.get('x-amzn-requestid')).toMatch(/^[0-9a-f-]{36}$/);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toEqual({ Type: 'User', Message: `${method} ${p}: this Lambda API path is not supported by invoq` });
      }
      const named = await fetch(`http://127.0.0.1:${open.port}/2015-03-31/functions/echo/policy`);
      expect(await named.json()).toEqual({ Type: 'User', Message: 'GetPolicy is not supported by invoq' });
    } finally {
      await open.close();
    }
  });
});

describe('a function with a catch-all route (ANY /{proxy+}, auth none)', () => {
  it('serves its own paths, never a Lambda API path', async () => {
    const page = await fetch(`${endpoint}/hello`);
    expect([page.status, await page.text()]).toEqual([200, '<html>site page for /hello</html>']);
    // Unauthenticated: the auth error, in Lambda's shape, not the page.
    for (const p of [
      '/2016-08-19/account-settings',
      '/2016-08-19/account-settings/',
      '/2021-10-31/functions/echo/url',
      '/2014-11-13/functions/echo/invoke-async/',
    ]) {
      const res = await fetch(`${endpoint}${p}`);
      expect([p, res.status, res.headers.get('x-amzn-errortype')]).toEqual([p, 401, 'UnrecognizedClientException']);
      expect(await res.text()).not.toContain('site page');
    }
    // Signed: the operation's name.
    const error = await failure(client().send(new ListLayersCommand({})));
    expect(error.message).toBe('ListLayers is not supported by invoq');
  });
});

/** The AWS CLI v2 (Debian's awscli), or undefined. */
function awsCliV2(): string | undefined {
  for (const candidate of ['/usr/bin/aws', 'aws']) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.status === 0 && /aws-cli\/2\./.test(result.stdout + result.stderr)) return candidate;
  }
  return undefined;
}

describe('the AWS CLI v2', () => {
  const aws = awsCliV2();
  // Decided at collection, so a machine without the CLI reports a skip, not a pass; CI must have it.
  const skipCli = !aws && process.env.CI !== 'true';
  const cliTest = skipCli ? it.skip : it;
  const cliNote = skipCli ? ' (no AWS CLI v2 on this machine: apt-get install awscli)' : '';

  cliTest(`aws lambda list-layers fails, naming the operation, after one request${cliNote}`, async () => {
    if (!aws) throw new Error('CI=true but no AWS CLI v2 is installed (.ci/run installs Debian awscli)');
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-cli-'));
    const before = received('/2018-10-31/layers/') + received('/2018-10-31/layers');
    // Asynchronously: the API under test runs in this process. The CLI's default retries stay on.
    const result = await promisify(execFile)(aws, ['lambda', 'list-layers', '--endpoint-url', endpoint], {
      cwd: home,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: home,
        AWS_ACCESS_KEY_ID: user.accessKeyId,
        AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
      },
      timeout: 30_000,
    }).then(
      () => {
        throw new Error('expected the CLI to fail');
      },
      (e: { code: number; stdout: string; stderr: string }) => e,
    );
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim()).toBe(
      'An error occurred (UnsupportedOperationException) when calling the ListLayers operation: ListLayers is not supported by invoq',
    );
    expect(received('/2018-10-31/layers/') + received('/2018-10-31/layers') - before).toBe(1);
  });
});
