import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SECRET_VARIABLES } from './config-schema';
import { ConfigError, loadConfig } from './load-config';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-secrets-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Writes `contents` to a fresh file and returns its path. */
function secretFile(name: string, contents: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, contents);
  return file;
}

const failure = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('loadConfig did not fail');
};

describe('secrets given as files (<SECRET>_FILE)', () => {
  it('lists the contract’s secret variables', () => {
    expect([...SECRET_VARIABLES].sort()).toEqual(
      [
        'INVOQ_ADMIN_KEYS',
        'INVOQ_API_KEYS',
        'INVOQ_AWS_CREDENTIALS',
        'INVOQ_DESTINATION_SECRET',
        'REDIS_PASSWORD',
        'REDIS_SENTINEL_PASSWORD',
        'REDIS_URL',
      ].sort(),
    );
  });

  it('loads every key and secret from its file, the trailing newline trimmed', () => {
    const config = loadConfig({
      INVOQ_API_KEYS_FILE: secretFile('api-keys', 'k1,k2\n'),
      INVOQ_ADMIN_KEYS_FILE: secretFile('admin-keys', 'root\r\n'),
      INVOQ_AWS_CREDENTIALS_FILE: secretFile('aws', 'AKID:s3cret:admin\n\n'),
      INVOQ_DESTINATION_SECRET_FILE: secretFile('destination', 'hmac key with spaces \n'),
      REDIS_URL_FILE: secretFile('redis-url', 'redis://:pw@redis.internal:6380\n'),
    });
    expect([...config.auth.apiKeys].sort()).toEqual(['k1', 'k2', 'root']);
    expect([...config.auth.adminKeys]).toEqual(['root']);
    expect(config.auth.accessKeys.get('AKID')).toEqual({ accessKeyId: 'AKID', secret: 's3cret', admin: true });
    // Only newlines go: spaces inside a secret are its own.
    expect(config.destinationSecret).toBe('hmac key with spaces ');
    expect(config.redis).toEqual({ kind: 'standalone', url: 'redis://:pw@redis.internal:6380' });
    expect(config.auth.enabled).toBe(true);
  });

  it('loads the Cluster’s and the Sentinels’ passwords from files', () => {
    const cluster = loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_PASSWORD_FILE: secretFile('cluster-pw', 'cpw\n') });
    expect(cluster.redis).toEqual({ kind: 'cluster', nodes: [{ host: 'a', port: 7000 }], auth: { username: undefined, password: 'cpw' } });
    const sentinel = loadConfig({
      REDIS_SENTINELS: 's:26379',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_USERNAME: 'app',
      REDIS_PASSWORD_FILE: secretFile('master-pw', 'mpw'),
      REDIS_SENTINEL_PASSWORD_FILE: secretFile('sentinel-pw', 'spw\n'),
    });
    expect(sentinel.redis).toMatchObject({ kind: 'sentinel', auth: { username: 'app', password: 'mpw' }, sentinelPassword: 'spw' });
  });

  it('refuses both forms of one secret, naming both', () => {
    expect(failure({ INVOQ_API_KEYS: 'a', INVOQ_API_KEYS_FILE: secretFile('both', 'b') })).toBe('INVOQ_API_KEYS, INVOQ_API_KEYS_FILE: set only one of them');
    expect(failure({ REDIS_URL: 'redis://x:6379', REDIS_URL_FILE: secretFile('both-url', 'redis://y:6379') })).toMatch(
      /^REDIS_URL, REDIS_URL_FILE: set only one/,
    );
  });

  it('stops with one clear line when the file cannot be read', () => {
    const missing = path.join(dir, 'no-such-file');
    expect(failure({ INVOQ_ADMIN_KEYS_FILE: missing })).toBe(`INVOQ_ADMIN_KEYS_FILE: cannot read ${missing} (ENOENT)`);
    expect(failure({ INVOQ_ADMIN_KEYS_FILE: dir })).toBe(`INVOQ_ADMIN_KEYS_FILE: cannot read ${dir} (EISDIR)`);
  });

  it('takes an empty file as unset, as an empty variable, and says so at start', () => {
    const empty = secretFile('empty', '\n');
    const config = loadConfig({ INVOQ_DESTINATION_SECRET_FILE: empty, INVOQ_API_KEYS: 'k' });
    expect(config.destinationSecret).toBeUndefined();
    expect(config.startupNotices).toContain(`INVOQ_DESTINATION_SECRET_FILE: ${empty} is empty, so INVOQ_DESTINATION_SECRET is unset`);
    // No keys at all is then what it always is: refused in production.
    expect(failure({ INVOQ_API_KEYS_FILE: empty, NODE_ENV: 'production' })).toMatch(/^INVOQ_API_KEYS: NODE_ENV=production needs/);
  });

  it('never quotes a secret in an error, from a file or a variable', () => {
    const fromFile = failure({ REDIS_URL_FILE: secretFile('bad-url', 'http://:hunter2@redis:6379\n') });
    expect(fromFile).toMatch(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/);
    expect(fromFile).not.toContain('hunter2');
    expect(failure({ REDIS_URL: 'http://:hunter2@redis:6379' })).not.toContain('hunter2');
    expect(failure({ INVOQ_AWS_CREDENTIALS_FILE: secretFile('bad-aws', 'AKID-without-secret') })).not.toContain('AKID-without-secret');
  });

  it('reads through the reader it is given (the apps read from disk)', () => {
    const read = jest.fn((file: string) => `key-from-${file}\n`);
    const config = loadConfig({ INVOQ_API_KEYS_FILE: '/run/secrets/api' }, read);
    expect(read).toHaveBeenCalledWith('/run/secrets/api');
    expect([...config.auth.apiKeys]).toEqual(['key-from-/run/secrets/api']);
  });
});
