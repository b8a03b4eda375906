/**
 * docs/configuration.md is generated from the config schema and its descriptions: it must match
 * what the generator writes now, and list every variable with the default users rely on.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../support/harness';
import { envSchema } from '../../packages/core/src/config/config-schema';

const script = path.join(REPO_ROOT, 'scripts/generate-configuration-docs.mjs');
const page = fs.readFileSync(path.join(REPO_ROOT, 'docs/configuration.md'), 'utf8');
const check = (out: string) => spawnSync(process.execPath, [script, '--check', '--out', out], { encoding: 'utf8' });

it('docs/configuration.md is what npm run docs:config generates (run it after changing the schema)', () => {
  const result = check(path.join(REPO_ROOT, 'docs/configuration.md'));
  expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
});

it('the check fails on a stale page', () => {
  const stale = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-config-docs-')), 'configuration.md');
  fs.writeFileSync(stale, page.replace('| `PORT` | `3000`', '| `PORT` | `8080`'));
  const result = check(stale);
  expect(result.status).toBe(1);
  expect(result.stderr).toMatch(/is stale: run npm run docs:config/);
  fs.rmSync(path.dirname(stale), { recursive: true, force: true });
});

it('lists every variable of the schema', () => {
  for (const name of Object.keys(envSchema.shape)) expect(page).toContain(`| \`${name}\` |`);
});

it.each([
  ['PORT', '`3000`'],
  ['HOST', '`127.0.0.1` (`0.0.0.0` in the Docker image)'],
  ['INVOQ_FUNCTIONS_DIR', '`./functions`'],
  ['INVOQ_WORKER_CONCURRENCY', '`32`'],
  ['INVOQ_MAX_ENVIRONMENTS', '`16`'],
  ['INVOQ_SYNC_WAIT_MS', '`1000`'],
  ['INVOQ_METRICS_PORT', '`9091`'],
  ['INVOQ_RETRY_BASE_DELAY_MS', '`60000`'],
  ['INVOQ_SYNC_PAYLOAD_LIMIT', '`6291456`'],
  ['INVOQ_ASYNC_PAYLOAD_LIMIT', '`262144`'],
  ['INVOQ_MAX_QUEUED_EVENTS', '`1000000`'],
  ['INVOQ_GATEWAY_TIMEOUT_MS', '`29000`'],
  ['INVOQ_STATUS_RETENTION_SECONDS', '`3600`'],
  ['INVOQ_DLQ_RETENTION_SECONDS', '`1209600`'],
  ['INVOQ_AUTH', '`on`'],
  ['INVOQ_QUEUE_PREFIX', '`invoq`'],
  ['LOG_LEVEL', '`info`'],
  ['INVOQ_MAX_CODE_BYTES', '`52428800`'],
  ['REDIS_URL', 'none'],
  ['REDIS_CLUSTER_NODES', 'none'],
  ['REDIS_SENTINELS', 'none'],
  ['REDIS_SENTINEL_NAME', 'none'],
  ['INVOQ_API_KEYS', 'none'],
  ['INVOQ_ADMIN_KEYS', 'none'],
  ['INVOQ_AWS_CREDENTIALS', 'none'],
  ['INVOQ_DESTINATION_SECRET', 'none'],
  ['INVOQ_API_KEYS_FILE', 'none'],
])('%s defaults to %s', (name, shown) => {
  const row = page.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
  expect(row?.split(' | ')[1]?.startsWith(shown)).toBe(true);
});
