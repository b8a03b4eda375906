/**
 * Grafana-ready out of the box: every contract metric family with the right values after real
 * traffic, valid for promtool on both tiers, scraped by a real Prometheus; the alert rules and
 * dashboard name only metrics that exist; the queue dashboard is for admins.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startApi, type ApiService } from '../../apps/api/src/api-service';
import { startWorker, type WorkerService } from '../../apps/worker/src/worker-service';
import { REPO_ROOT, freePort, makeFunctionsDir, silentLogger, testConfig, uniquePrefix, waitFor } from '../support/harness';

const CONTRACT_FAMILIES = [
  'invoq_invocations_total',
  'invoq_errors_total',
  'invoq_throttles_total',
  'invoq_duration_seconds',
  'invoq_concurrent_executions',
  'invoq_async_events_received_total',
  'invoq_async_event_age_seconds',
  'invoq_async_events_dropped_total',
  'invoq_async_attempts',
  'invoq_retries_total',
  'invoq_dead_letter_total',
  'invoq_destination_delivery_failures_total',
  'invoq_queue_jobs',
  'invoq_queue_oldest_age_seconds',
  'invoq_dlq_depth',
  'invoq_dlq_oldest_age_seconds',
  'invoq_circuit_state',
  'invoq_build_info',
];
const DOCKER = path.join(REPO_ROOT, 'docker');

/** Each tool's own Debian package (what .ci/run installs). */
const PACKAGE_OF = { promtool: 'prometheus', prometheus: 'prometheus', chromium: 'chromium' } as const;

/** A binary from Debian's packages, or undefined; in CI a missing one fails the test instead. */
function tool(name: keyof typeof PACKAGE_OF): string | undefined {
  const found = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, name))
    .find((p) => fs.existsSync(p));
  if (!found && process.env.CI === 'true') throw new Error(`CI=true but ${name} is not installed (.ci/run installs Debian's ${PACKAGE_OF[name]} package)`);
  if (!found) console.warn(`skipped: ${name} is not installed (apt-get install ${PACKAGE_OF[name]})`);
  return found;
}
const run = promisify(execFile);
async function runWithStdin(file: string, args: string[], stdin: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args);
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(stdin);
  });
}

const functionsDir = makeFunctionsDir({
  ok: { config: { handler: 'index.handler' }, files: { 'index.js': 'exports.handler = async (e) => e;' } },
  bad: {
    config: { handler: 'index.handler', circuitBreaker: false, async: { maximumRetryAttempts: 0 } },
    files: { 'index.js': 'exports.handler = async () => { throw new Error("x"); };' },
  },
});
let api: ApiService;
let worker: WorkerService;
let apiUrl: string;
let workerUrl: string;

beforeAll(async () => {
  const config = testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('obs'), INVOQ_API_KEYS: 'user', INVOQ_ADMIN_KEYS: 'admin' });
  [api, worker] = await Promise.all([startApi(config, silentLogger()), startWorker(config, silentLogger())]);
  apiUrl = `http://127.0.0.1:${api.port}`;
  workerUrl = `http://127.0.0.1:${worker.metricsPort}`;
  const invoke = (fn: string, type: string, body = '{}') =>
    fetch(`${apiUrl}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { 'x-api-key': 'user', 'x-amz-invocation-type': type }, body });
  for (let i = 0; i < 3; i += 1) await invoke('ok', 'RequestResponse');
  await invoke('bad', 'RequestResponse');
  for (let i = 0; i < 2; i += 1) await invoke('ok', 'Event');
  await invoke('bad', 'Event');
  await waitFor(
    async () => /^invoq_dead_letter_total\{function="bad",reason="RetriesExhausted"\} 1$/m.test(await (await fetch(`${workerUrl}/metrics`)).text()),
    10_000,
    'the failed event in the DLQ',
  );
  await waitFor(
    async () => /^invoq_invocations_total\{function="ok",type="async"\} 2$/m.test(await (await fetch(`${workerUrl}/metrics`)).text()),
    10_000,
    'the events to run',
  );
});
afterAll(async () => {
  await Promise.all([api?.close(), worker?.close()]);
});

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();

it('declares every contract family on both tiers, with the values the traffic produced', async () => {
  // Queue gauges are read from Redis at scrape time with a deadline: poll until both have them.
  const [apiText, workerText] = await waitFor(
    async () => {
      const texts = await Promise.all([scrape(apiUrl), scrape(workerUrl)]);
      return texts.every((t) => /^invoq_dlq_depth\{function="bad"\} 1$/m.test(t)) && texts;
    },
    10_000,
    'queue gauges on both tiers',
  );
  for (const text of [apiText, workerText]) for (const family of CONTRACT_FAMILIES) expect(text).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
  expect(apiText).toMatch(/^invoq_invocations_total\{function="ok",type="sync"\} 3$/m);
  expect(apiText).toMatch(/^invoq_invocations_total\{function="bad",type="sync"\} 1$/m);
  expect(apiText).toMatch(/^invoq_errors_total\{function="bad",type="sync"\} 1$/m);
  expect(apiText).toMatch(/^invoq_duration_seconds_count\{function="ok",type="sync"\} 3$/m);
  expect(apiText).toMatch(/^invoq_async_events_received_total\{function="ok"\} 2$/m);
  expect(workerText).toMatch(/^invoq_errors_total\{function="bad",type="async"\} 1$/m);
  expect(workerText).toMatch(/^invoq_async_event_age_seconds_count\{function="ok"\} 2$/m);
  expect(workerText).toMatch(/^invoq_async_attempts_count\{function="ok"\} 2$/m);
  expect(workerText).toMatch(/^invoq_async_events_dropped_total\{function="bad",reason="RetriesExhausted"\} 1$/m);
  for (const text of [apiText, workerText]) {
    expect(text).toMatch(/^invoq_dlq_depth\{function="bad"\} 1$/m);
    expect(text).toMatch(/^invoq_queue_jobs\{function="ok",state="completed"\} 2$/m);
    expect(text).toMatch(/^invoq_dlq_oldest_age_seconds\{function="bad"\} [0-9.]+$/m);
    expect(text).toMatch(/^invoq_build_info\{version="[^"]+",node="v\d+/m);
    expect(text).not.toMatch(/nodejs_active_\w+_total/);
  }
});

it('passes promtool check metrics on both endpoints', async () => {
  const promtool = tool('promtool');
  if (!promtool) return;
  for (const url of [apiUrl, workerUrl]) {
    const result = await runWithStdin(promtool, ['check', 'metrics'], await scrape(url));
    expect(result).toEqual({ code: 0, output: '' });
  }
});

it('ships a Prometheus config, alert rules and rule tests that promtool accepts', async () => {
  const promtool = tool('promtool');
  if (!promtool) return;
  await run(promtool, ['check', 'config', path.join(DOCKER, 'prometheus/prometheus.yml')]);
  await run(promtool, ['check', 'rules', path.join(DOCKER, 'prometheus/alerts.yml')]);
  const { stdout } = await run(promtool, ['test', 'rules', path.join(DOCKER, 'prometheus/tests/alerts.test.yml')]);
  expect(stdout).toMatch(/SUCCESS/);
});

it('names in the dashboard and the alerts only metrics a live endpoint has', async () => {
  const live = (await scrape(apiUrl)) + (await scrape(workerUrl));
  const dashboard = fs.readFileSync(path.join(DOCKER, 'grafana/dashboards/invoq.json'), 'utf8');
  const alerts = fs.readFileSync(path.join(DOCKER, 'prometheus/alerts.yml'), 'utf8');
  const named = new Set([...(dashboard + alerts).matchAll(/\binvoq_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')));
  expect(named.size).toBeGreaterThan(10);
  for (const name of named) expect(live).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  // The dashboard is valid JSON with its panels, and provisioning points at it.
  expect(JSON.parse(dashboard).panels.length).toBeGreaterThanOrEqual(10);
  expect(fs.readFileSync(path.join(DOCKER, 'grafana/provisioning/dashboards/invoq.yml'), 'utf8')).toContain('/var/lib/grafana/dashboards');
});

it('is scraped by a real Prometheus server on both tiers', async () => {
  const prometheus = tool('prometheus');
  if (!prometheus) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-prom-'));
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'prometheus.yml'),
    `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: invoq-api\n    static_configs: [{ targets: ['127.0.0.1:${api.port}'] }]\n  - job_name: invoq-worker\n    static_configs: [{ targets: ['127.0.0.1:${worker.metricsPort}'] }]\n`,
  );
  let server: ChildProcess | undefined;
  try {
    server = spawn(prometheus, [`--config.file=${dir}/prometheus.yml`, `--storage.tsdb.path=${dir}/data`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: 'ignore',
    });
    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`).catch(() => undefined);
      return res?.ok ? ((await res.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }).data.result : [];
    };
    const byJob = await waitFor(
      async () => {
        const result = await query('sum by (job) (invoq_invocations_total{function="ok"})');
        return result.length === 2 && result;
      },
      30_000,
      'Prometheus to scrape both tiers',
    );
    expect(Object.fromEntries(byJob.map((r) => [r.metric.job, Number(r.value[1])]))).toEqual({ 'invoq-api': 3, 'invoq-worker': 2 });
    expect((await query('up')).every((r) => r.value[1] === '1')).toBe(true);
  } finally {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.once('exit', resolve));
      server.kill('SIGTERM');
      await exited;
    }
  }
}, 45_000);

it('serves the queue dashboard at /admin/queues to admin keys only', async () => {
  const none = await fetch(`${apiUrl}/admin/queues`);
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toMatch(/^Basic /);
  const basic = (key: string) => ({ authorization: `Basic ${Buffer.from(`anyone:${key}`).toString('base64')}` });
  expect((await fetch(`${apiUrl}/admin/queues`, { headers: basic('user') })).status).toBe(403);
  const page = await fetch(`${apiUrl}/admin/queues`, { headers: basic('admin') });
  expect(page.status).toBe(200);
  expect(await page.text()).toContain('invoq queues');
  const queues = (await (await fetch(`${apiUrl}/admin/queues/api/queues`, { headers: basic('admin') })).json()) as {
    queues: Array<{ name: string; readOnlyMode: boolean }>;
  };
  expect(queues.queues.map((q) => q.name).sort()).toEqual(['{bad}', '{ok}']);
  expect(queues.queues.every((q) => q.readOnlyMode)).toBe(true);
});

it('renders the queue dashboard in a real browser (headless Chromium)', async () => {
  const chromium = tool('chromium');
  if (!chromium) return;
  // Auth off on loopback (no keys), as `npm start` runs: the page's own API calls need no key.
  const open = await startApi(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('board') }), silentLogger());
  try {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-chromium-'));
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=5000',
    ];
    const { stdout } = await run(chromium, [...flags, '--dump-dom', `http://127.0.0.1:${open.port}/admin/queues`], { timeout: 60_000, maxBuffer: 10_000_000 });
    // The board's script ran and listed every function's queue.
    expect(stdout).toContain('invoq queues');
    expect(stdout).toContain('{ok}');
    expect(stdout).toContain('{bad}');
  } finally {
    await open.close();
  }
}, 90_000);
