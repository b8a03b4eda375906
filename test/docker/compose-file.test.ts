/**
 * docker/compose.yaml, the Dockerfile and the Prometheus and Grafana files agree with each other
 * and with invoq's contract (its config schema, ports and health endpoints). No Docker engine
 * runs here, so this reads the files as `docker compose config` would, interpolation included.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { PROCESS_STOP_GRACE_MS, loadConfig, serviceNodeFlags } from '@invoq/core';
import { envSchema } from '../../packages/core/src/config/config-schema';
import { REPO_ROOT } from '../support/harness';

const dockerDir = path.join(REPO_ROOT, 'docker');
const read = (file: string) => fs.readFileSync(path.join(dockerDir, file), 'utf8');

/** Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error}. */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const value = vars[name];
    if (value !== undefined && value !== '') return value;
    if (op === '?') throw new Error(`required variable ${name} is missing: ${arg}`);
    return op === '-' ? arg! : '';
  });
}

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  secrets?: string[];
  stop_grace_period?: string;
}
const composeText = read('compose.yaml');
const compose = YAML.parse(interpolate(composeText, {}), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  secrets: Record<string, { environment?: string; file?: string }>;
};
const services = compose.services;
const hostPath = (volume: string) => path.resolve(dockerDir, volume.split(':')[0]!);
const healthUrl = (service: Service) => /http:\/\/127\.0\.0\.1:(\d+)(\/[^'"\s)]*)/.exec(service.healthcheck!.test.join(' '));

it('has Redis, the API, two workers, Prometheus and Grafana, each with a healthcheck', () => {
  expect(Object.keys(services).sort()).toEqual(['api', 'grafana', 'prometheus', 'redis', 'worker']);
  for (const [name, service] of Object.entries(services)) expect([name, service.healthcheck?.test.length]).toEqual([name, expect.any(Number)]);
  expect(services.worker!.deploy?.replicas).toBe(2);
  // Replicas publish nothing, so scaling never clashes on a host port.
  expect(services.worker!.ports).toBeUndefined();
});

it('runs Redis with AOF fsynced on every write and noeviction, as the contract and BullMQ need', () => {
  const redis = services.redis!;
  expect(redis.image).toMatch(/^redis:7/);
  const command = redis.command!.join(' ');
  expect(command).toMatch(/--appendonly yes/);
  // The contract: nothing accepted with 202 is lost on a Redis restart, which `everysec` cannot promise.
  expect(command).toMatch(/--appendfsync always(\s|$)/);
  expect(command).not.toMatch(/everysec/);
  expect(command).toMatch(/--maxmemory-policy noeviction/);
  // The byte budget: the API refuses Event short of maxmemory only when Redis has one.
  expect(command).toMatch(/--maxmemory [1-9]\d*[kmg]b\b/);
  expect(redis.volumes![0]).toMatch(/:\/data$/);
  expect(redis.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
});

/**
 * What a container of `service` reads for a `_FILE` variable: the Compose secret mounted at
 * /run/secrets/<name>, made from the host variable named in the top-level `secrets`.
 */
function secretFileReader(service: Service, hostEnv: Record<string, string>): (file: string) => string {
  return (file) => {
    const name = /^\/run\/secrets\/(.+)$/.exec(file)?.[1];
    if (!name || !service.secrets?.includes(name)) throw Object.assign(new Error(`no secret mounted at ${file}`), { code: 'ENOENT' });
    return hostEnv[compose.secrets[name]!.environment!] ?? '';
  };
}

it('gives both tiers their keys as Compose secrets (files), none as variables', () => {
  const secretNames = ['INVOQ_API_KEYS', 'INVOQ_ADMIN_KEYS', 'INVOQ_AWS_CREDENTIALS', 'INVOQ_DESTINATION_SECRET'];
  for (const name of ['api', 'worker']) {
    const service = services[name]!;
    const env = service.environment!;
    for (const secret of secretNames) {
      expect([secret, env[secret]]).toEqual([secret, undefined]);
      expect(env[`${secret}_FILE`]).toMatch(/^\/run\/secrets\//);
    }
    const hostEnv = { INVOQ_API_KEYS: 'k1,k2', INVOQ_ADMIN_KEYS: 'root', INVOQ_AWS_CREDENTIALS: 'AKID:secret:admin', INVOQ_DESTINATION_SECRET: 'hmac' };
    const config = loadConfig({ ...env, NODE_ENV: 'production' }, secretFileReader(service, hostEnv));
    expect([...config.auth.apiKeys].sort()).toEqual(['k1', 'k2', 'root']);
    expect(config.auth.accessKeys.get('AKID')?.admin).toBe(true);
    expect(config.destinationSecret).toBe('hmac');
    // Optional secrets left unset are empty files, taken as unset; no API key at all, no start.
    expect(loadConfig({ ...env, NODE_ENV: 'production' }, secretFileReader(service, { INVOQ_API_KEYS: 'k' })).destinationSecret).toBeUndefined();
    expect(() => loadConfig({ ...env, NODE_ENV: 'production' }, secretFileReader(service, {}))).toThrow(/^INVOQ_API_KEYS: NODE_ENV=production needs/);
  }
});

it('builds both tiers from the Dockerfile with an environment invoq accepts', () => {
  for (const name of ['api', 'worker']) {
    const service = services[name]!;
    expect(path.resolve(dockerDir, service.build!.context)).toBe(REPO_ROOT);
    expect(fs.existsSync(path.join(REPO_ROOT, service.build!.dockerfile))).toBe(true);
    const env = service.environment!;
    // Every variable is one the contract (and so the config schema) defines, and loads cleanly.
    expect(Object.keys(env).filter((k) => !(k in envSchema.shape))).toEqual([]);
    const config = loadConfig({ ...env, NODE_ENV: 'production' }, secretFileReader(service, { INVOQ_API_KEYS: 'k1,k2' }));
    expect(config.auth.enabled).toBe(true);
    expect(new URL(env.REDIS_URL!).host).toBe('redis:6379');
    expect(service.depends_on?.redis?.condition).toBe('service_healthy');
    expect(service.volumes).toContain('orders:/app/.invoq/orders');
    const entry = service.command!.at(-1)!;
    expect(fs.existsSync(path.join(REPO_ROOT, entry.replace('/dist/', '/src/').replace(/\.js$/, '.ts')))).toBe(true);
  }
  const api = services.api!;
  const apiPort = loadConfig(api.environment!, secretFileReader(api, { INVOQ_API_KEYS: 'k' })).port;
  // Started as `npm run api` starts it, with the flags V8 reads only at start-up.
  expect(api.command).toEqual(['node', ...serviceNodeFlags(''), 'apps/api/dist/main.js']);
  expect(api.ports).toContain(`${apiPort}:${apiPort}`);
  expect(healthUrl(api)?.slice(1)).toEqual([String(apiPort), '/healthz']);
  const worker = services.worker!;
  const metricsPort = loadConfig(worker.environment!, secretFileReader(worker, { INVOQ_API_KEYS: 'k' })).metricsPort;
  expect(worker.command).toEqual(['node', ...serviceNodeFlags(''), 'apps/worker/dist/main.js']);
  expect(worker.expose).toEqual([String(metricsPort)]);
  expect(healthUrl(worker)?.slice(1)).toEqual([String(metricsPort), '/healthz']);
});

it('points Prometheus at the API and every worker replica, with the alert rules', () => {
  const prometheus = services.prometheus!;
  for (const volume of prometheus.volumes!.filter((v) => v.startsWith('./'))) expect(fs.existsSync(hostPath(volume))).toBe(true);
  const config = YAML.parse(read('prometheus/prometheus.yml')) as {
    rule_files: string[];
    scrape_configs: Array<{ job_name: string; static_configs?: Array<{ targets: string[] }>; dns_sd_configs?: Array<{ names: string[]; port: number }> }>;
  };
  const mounted = prometheus.volumes!.map((v) => v.split(':')[1]);
  for (const rules of config.rule_files) expect(mounted).toContain(`/etc/prometheus/${rules}`);
  const api = config.scrape_configs.find((j) => j.job_name === 'invoq-api')!;
  expect(api.static_configs![0]!.targets).toEqual([
    `api:${loadConfig(services.api!.environment!, secretFileReader(services.api!, { INVOQ_API_KEYS: 'k' })).port}`,
  ]);
  const worker = config.scrape_configs.find((j) => j.job_name === 'invoq-worker')!;
  expect(worker.dns_sd_configs![0]).toMatchObject({
    names: ['worker'],
    port: loadConfig(services.worker!.environment!, secretFileReader(services.worker!, { INVOQ_API_KEYS: 'k' })).metricsPort,
  });
  expect(prometheus.ports).toContain('127.0.0.1:9090:9090');
});

it('provisions Grafana with Prometheus as its data source and the invoq dashboard', () => {
  const grafana = services.grafana!;
  const mountOf = (source: string) => grafana.volumes!.find((v) => v.startsWith(`${source}:`))!.split(':')[1];
  const datasources = YAML.parse(fs.readFileSync(path.join(dockerDir, 'grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as {
    datasources: Array<{ url: string }>;
  };
  expect(datasources.datasources[0]!.url).toBe('http://prometheus:9090');
  const providers = YAML.parse(fs.readFileSync(path.join(dockerDir, 'grafana/provisioning/dashboards/invoq.yml'), 'utf8')) as {
    providers: Array<{ options: { path: string } }>;
  };
  expect(providers.providers[0]!.options.path).toBe(mountOf('./grafana/dashboards'));
  expect(mountOf('./grafana/provisioning')).toBe('/etc/grafana/provisioning');
  const dashboard = JSON.parse(fs.readFileSync(path.join(dockerDir, 'grafana/dashboards/invoq.json'), 'utf8')) as { panels: unknown[] };
  expect(dashboard.panels.length).toBeGreaterThan(0);
});

it('ships a multi-stage, non-root Dockerfile on Node.js 24, with a healthcheck for either tier', () => {
  const dockerfile = read('Dockerfile');
  const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!);
  expect(froms.length).toBeGreaterThanOrEqual(2);
  // The contract: the Docker image uses Node.js 24, in the stage that builds and the one that runs.
  for (const from of froms) expect(from).toMatch(/^node:24(-|$)/);
  expect(dockerfile).toMatch(/^ENV .*\bHOST=0\.0\.0\.0\b/m);
  // The running stage drops root: its last USER is node, set after its FROM.
  const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]!);
  expect(users.at(-1)).toBe('node');
  expect(dockerfile.lastIndexOf('\nUSER ')).toBeGreaterThan(dockerfile.lastIndexOf('\nFROM '));
  expect(dockerfile).toMatch(/^EXPOSE 3000 9091$/m);
  expect(/^CMD (.*)$/m.exec(dockerfile)?.[1]).toBe(JSON.stringify(['node', ...serviceNodeFlags(''), 'apps/api/dist/main.js']).replace(/,/g, ', '));
  // Outside compose (which probes each tier itself) one image runs either tier: its check probes
  // the API's PORT and the worker's INVOQ_METRICS_PORT.
  const healthcheck = /^HEALTHCHECK .*$/m.exec(dockerfile)?.[0] ?? '';
  expect(healthcheck).toMatch(/\/healthz/);
  expect(healthcheck).toMatch(/PORT\|\|3000/);
  expect(healthcheck).toMatch(/INVOQ_METRICS_PORT\|\|9091/);
  // Everything the image copies from the build context exists (and is not dockerignored).
  const ignored = fs
    .readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  const copies = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].map((m) => m[1]!);
  expect(copies.length).toBeGreaterThanOrEqual(3);
  for (const sources of copies) {
    for (const source of sources.split(/\s+/)) {
      expect([source, fs.existsSync(path.join(REPO_ROOT, source))]).toEqual([source, true]);
      expect(ignored).not.toContain(source);
    }
  }
  // Installs and build outputs stay out of the context at every depth (workspaces have their own).
  expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/dist', '**/*.tsbuildinfo', '**/.invoq', '**/coverage', '.git', 'bench/results']));
});

it("gives each worker replica the stop grace that outlasts the worker's own", () => {
  // Past the worker's grace it hands running events back; Compose must not kill it before.
  const workers = Object.entries(services).filter(([name]) => name.startsWith('worker'));
  expect(workers.length).toBeGreaterThan(0);
  for (const [, worker] of workers) expect(worker.stop_grace_period).toBe(`${PROCESS_STOP_GRACE_MS / 1000}s`);
});
