/**
 * A function deployed at run time through Lambda's management API (the SDK v3, its waiters
 * included) against two APIs and a worker sharing one Redis, and a Redis Cluster: every replica
 * serves a create, an update of code or configuration, a version and an alias within 2 s of the
 * call's answer, without a restart; weighted aliases split invocations by their weights; events
 * keep the version they were accepted for; a deleted function's queued events go to the DLQ as
 * FunctionDeleted.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  PublishVersionCommand,
  PutFunctionConcurrencyCommand,
  ResourceNotFoundException,
  UpdateFunctionCodeCommand,
  UpdateFunctionConfigurationCommand,
  waitUntilFunctionActiveV2,
  waitUntilFunctionUpdatedV2,
} from '@aws-sdk/client-lambda';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { makeFunctionsDir, silentLogger, testConfig, testRedisUrl, uniquePrefix, waitFor } from '../support/harness';
import { OwnRedisCluster } from '../support/redis-cluster';
import { greeterZip, type GreeterAnswer } from '../support/deployable-function';

const admin = { accessKeyId: 'AKIDDEPLOY', secretAccessKey: 'deploy-secret' };
/** What the contract promises: every replica serves a change within 2 s of its answer. */
const FOLLOW_MS = 2000;
const markerDir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-deploy-'));
afterAll(() => fs.rmSync(markerDir, { recursive: true, force: true }));

const markerOf = (mark: string) => {
  const file = path.join(markerDir, mark);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as GreeterAnswer) : undefined;
};

const backends: Array<[string, () => Promise<{ env: Record<string, string | undefined>; stop: () => Promise<void> }>]> = [
  ['one Redis', async () => ({ env: { REDIS_URL: testRedisUrl() }, stop: async () => undefined })],
  [
    'a Redis Cluster',
    async () => {
      const cluster = await OwnRedisCluster.start();
      return { env: { REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.nodes }, stop: () => cluster.stop() };
    },
  ],
];
const clusterMissing = OwnRedisCluster.missing().length > 0 && process.env.CI !== 'true';

describe.each(backends)('deploying at run time on %s', (backend, startBackend) => {
  const suite = backend === 'a Redis Cluster' && clusterMissing ? describe.skip : describe;
  suite('two APIs and a worker', () => {
    let stopBackend: () => Promise<void>;
    let apiA: ApiService;
    let apiB: ApiService;
    let worker: WorkerService;
    let a: LambdaClient;
    let b: LambdaClient;
    const name = `greeter-${backend === 'one Redis' ? 'one' : 'cluster'}`;

    beforeAll(async () => {
      const started = await startBackend();
      stopBackend = started.stop;
      const config = testConfig({
        ...started.env,
        INVOQ_FUNCTIONS_DIR: makeFunctionsDir({
          folderfn: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async () => 1;' } },
        }),
        INVOQ_QUEUE_PREFIX: uniquePrefix('deploy'),
        INVOQ_AWS_CREDENTIALS: `${admin.accessKeyId}:${admin.secretAccessKey}:admin`,
        INVOQ_CODE_CACHE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-code-')),
        INVOQ_RETRY_BASE_DELAY_MS: '50',
      });
      // Each process has a code cache of its own, as replicas on separate machines do.
      apiA = await startApi(config, silentLogger());
      apiB = await startApi({ ...config, codeCacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-code-')) }, silentLogger());
      worker = await startWorker({ ...config, codeCacheDir: fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-code-')) }, silentLogger());
      const client = (port: number) => new LambdaClient({ endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', credentials: admin, maxAttempts: 1 });
      a = client(apiA.port);
      b = client(apiB.port);
    }, 60_000);

    afterAll(async () => {
      a?.destroy();
      b?.destroy();
      const timed = async (what: string, close: () => Promise<void>) => {
        const t0 = Date.now();
        const slow = setTimeout(() => console.warn(`${what} has not closed after 5 s`), 5000);
        await close();
        clearTimeout(slow);
        if (Date.now() - t0 > 5000) console.warn(`${what} took ${Date.now() - t0} ms to close`);
      };
      await Promise.all([timed('API A', () => apiA.close()), timed('API B', () => apiB.close()), timed('the worker', () => worker.close())]);
      await stopBackend?.();
    }, 60_000);

    const invoke = async (client: LambdaClient, payload: object = {}, qualifier?: string) => {
      const out = await client.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier, Payload: Buffer.from(JSON.stringify(payload)) }));
      return {
        version: out.ExecutedVersion,
        body: JSON.parse(Buffer.from(out.Payload!).toString()) as GreeterAnswer,
      };
    };
    /** Polls until `check` holds, failing if that took longer than FOLLOW_MS after `answeredAt`. */
    const followsWithin = async (what: string, answeredAt: number, check: () => Promise<boolean>) => {
      await waitFor(() => check().catch(() => false), FOLLOW_MS + 1000, what);
      expect({ what, withinFollowTime: Date.now() - answeredAt <= FOLLOW_MS }).toEqual({ what, withinFollowTime: true });
    };
    const sendEvent = (client: LambdaClient, mark: string, qualifier?: string) =>
      client.send(new InvokeCommand({ FunctionName: name, Qualifier: qualifier, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ mark })) }));

    it('a create on one API is served by the other and by the worker within 2 s', async () => {
      const created = await a.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs20.x',
          Role: 'arn:aws:iam::000000000000:role/any',
          Handler: 'index.handler',
          Code: { ZipFile: greeterZip('v1') },
          Environment: { Variables: { MARKER_DIR: markerDir } },
        }),
      );
      const answeredAt = Date.now();
      expect(created.State).toBe('Pending');
      await followsWithin('API B serves the new function', answeredAt, async () => (await invoke(b)).body.code === 'v1');
      await followsWithin('the worker runs its events', answeredAt, async () => {
        await sendEvent(b, 'create-event');
        return (await waitFor(() => markerOf('create-event'), 1000).catch(() => undefined))?.code === 'v1';
      });
      await waitUntilFunctionActiveV2({ client: b, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { FunctionName: name });
      const first = await invoke(a);
      expect(first).toEqual({ version: '$LATEST', body: { code: 'v1', greeting: 'hello world', version: '$LATEST', x: null, suffix: null } });
    }, 30_000);

    it('code and configuration updated through API B are served by API A and the worker within 2 s', async () => {
      const updated = await b.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: greeterZip('v2') }));
      const answeredAt = Date.now();
      expect(updated.LastUpdateStatus).toBe('InProgress');
      await followsWithin('API A serves the new code', answeredAt, async () => (await invoke(a)).body.code === 'v2');
      await followsWithin('the worker runs the new code', answeredAt, async () => {
        const mark = `code-${Date.now()}-${Math.random()}`;
        await sendEvent(a, mark);
        return (await waitFor(() => markerOf(mark), 1000).catch(() => undefined))?.code === 'v2';
      });
      await waitUntilFunctionUpdatedV2({ client: a, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { FunctionName: name });

      await b.send(new UpdateFunctionConfigurationCommand({ FunctionName: name, Environment: { Variables: { MARKER_DIR: markerDir, SUFFIX: '!' } } }));
      const configuredAt = Date.now();
      await followsWithin('API A serves the new configuration', configuredAt, async () => (await invoke(a)).body.suffix === '!');
      await followsWithin('the worker runs with the new configuration', configuredAt, async () => {
        const mark = `config-${Date.now()}-${Math.random()}`;
        await sendEvent(b, mark);
        return (await waitFor(() => markerOf(mark), 1000).catch(() => undefined))?.suffix === '!';
      });
      await waitUntilFunctionUpdatedV2({ client: b, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { FunctionName: name });
    }, 30_000);

    it('versions are immutable, a weighted alias splits calls by its weights, and an event keeps the version it was accepted for', async () => {
      const one = await a.send(new PublishVersionCommand({ FunctionName: name }));
      expect(one.Version).toBe('1');
      await b.send(new UpdateFunctionCodeCommand({ FunctionName: name, ZipFile: greeterZip('v3') }));
      await waitUntilFunctionUpdatedV2({ client: b, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { FunctionName: name });
      const two = await b.send(new PublishVersionCommand({ FunctionName: name }));
      expect(two.Version).toBe('2');
      const publishedAt = Date.now();
      await followsWithin('API A serves version 2', publishedAt, async () => (await invoke(a, {}, '2')).body.code === 'v3');

      // Version 1 is the code and configuration as published: v2 with the suffix.
      expect(await invoke(a, {}, '1')).toEqual({ version: '1', body: { code: 'v2', greeting: 'hello world', version: '1', x: null, suffix: '!' } });
      const byArn = await b.send(new InvokeCommand({ FunctionName: `arn:aws:lambda:us-east-1:000000000000:function:${name}:2` }));
      expect(byArn.ExecutedVersion).toBe('2');
      expect((await invoke(b)).body.code).toBe('v3');

      await a.send(
        new CreateAliasCommand({ FunctionName: name, Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.3 } } }),
      );
      const aliasedAt = Date.now();
      await followsWithin('API B serves the alias', aliasedAt, async () => ['1', '2'].includes((await invoke(b, {}, 'live')).version ?? ''));
      const calls = 300;
      const versions = await Promise.all(Array.from({ length: calls }, (_, i) => invoke(i % 2 ? a : b, {}, 'live').then((r) => r.version)));
      const toTwo = versions.filter((v) => v === '2').length;
      expect(versions.filter((v) => v !== '1' && v !== '2')).toEqual([]);
      // Binomial(300, 0.3): mean 90, sd 7.9; ±4.5 sd fails a correct split about once in 150,000 runs.
      expect(toTwo).toBeGreaterThanOrEqual(55);
      expect(toTwo).toBeLessThanOrEqual(125);

      // Events through the alias: each runs the version it was resolved to when accepted.
      const marks = Array.from({ length: 20 }, (_, i) => `alias-${i}`);
      await Promise.all(marks.map((mark) => sendEvent(a, mark, 'live')));
      const ran = await waitFor(() => (marks.every((m) => markerOf(m)) ? marks.map((m) => markerOf(m)!) : undefined), 15_000, 'the alias events to run');
      for (const answer of ran) expect([answer.version, answer.code]).toEqual(answer.version === '1' ? ['1', 'v2'] : ['2', 'v3']);
    }, 60_000);

    it("GetFunction's Code.Location downloads the zip whose SHA-256 is CodeSha256", async () => {
      const got = await b.send(new GetFunctionCommand({ FunctionName: name }));
      const response = await fetch(got.Code!.Location!);
      expect(response.status).toBe(200);
      const zip = Buffer.from(await response.arrayBuffer());
      expect(createHash('sha256').update(zip).digest('base64')).toBe(got.Configuration!.CodeSha256);
      expect(zip.equals(greeterZip('v3'))).toBe(true);
    });

    it("a delete is followed everywhere, and the function's queued events go to the DLQ as FunctionDeleted", async () => {
      // No run may start: the events stay queued until the delete.
      await a.send(new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 0 }));
      const held = Date.now();
      await followsWithin('API B refuses sync calls over the reserved concurrency', held, async () => {
        try {
          await invoke(b);
          return false;
        } catch (e) {
          return (e as Error).name === 'TooManyRequestsException';
        }
      });
      const queued = await Promise.all(Array.from({ length: 5 }, (_, i) => sendEvent(b, `deleted-${i}`)));
      const ids = queued.map((out) => out.$metadata.requestId!);
      await a.send(new DeleteFunctionCommand({ FunctionName: name }));
      const deletedAt = Date.now();
      await followsWithin('API B no longer finds it', deletedAt, async () => {
        try {
          await invoke(b);
          return false;
        } catch (e) {
          return e instanceof ResourceNotFoundException;
        }
      });
      const status = async (id: string) =>
        (await (await fetch(`http://127.0.0.1:${apiB.port}/invocations/${id}`, { headers: adminBasic() })).json()) as Record<string, unknown>;
      const statuses = await waitFor(
        async () => {
          const all = await Promise.all(ids.map(status));
          return all.every((s) => s.status === 'dead-lettered') ? all : undefined;
        },
        10_000,
        'the queued events to be dead-lettered',
      );
      for (const s of statuses) expect(s).toMatchObject({ status: 'dead-lettered', reason: 'FunctionDeleted' });
      for (let i = 0; i < 5; i++) expect(markerOf(`deleted-${i}`)).toBeUndefined();
    }, 30_000);
  });
});

/** Basic credentials of the admin key pair: how invoq's own admin paths take a SigV4 pair. */
function adminBasic(): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${admin.accessKeyId}:${admin.secretAccessKey}`).toString('base64')}` };
}
