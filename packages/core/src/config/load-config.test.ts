import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      workerConcurrency: 32,
      maxEnvironments: 16,
      processSandbox: 'auto',
      syncWaitMs: 1000,
      metricsPort: 9091,
      retryBaseDelayMs: 60_000,
      syncPayloadLimitBytes: 6_291_456,
      asyncPayloadLimitBytes: 262_144,
      maxQueuedEvents: 1_000_000,
      maxRedisMemoryPercent: 90,
      gatewayTimeoutMs: 29_000,
      statusRetentionSeconds: 3600,
      dlqRetentionSeconds: 1_209_600,
      redriveMaxWaiting: 100,
      queueDiscoverySeconds: 60,
      queuePrefix: 'invoq',
      region: 'us-east-1',
      logLevel: 'info',
    });
    expect(config.redis).toBeUndefined();
  });

  it('turns auth off on loopback when no keys are set, and says so', () => {
    const config = loadConfig({});
    expect(config.auth.enabled).toBe(false);
    expect(config.startupNotices.join(' ')).toMatch(/auth is off/);
  });

  it('keeps auth on when keys are set; admin keys are API keys too', () => {
    const config = loadConfig({ INVOQ_API_KEYS: 'a, b', INVOQ_ADMIN_KEYS: 'root' });
    expect(config.auth.enabled).toBe(true);
    expect([...config.auth.apiKeys].sort()).toEqual(['a', 'b', 'root']);
    expect([...config.auth.adminKeys]).toEqual(['root']);
  });

  it('parses AWS credentials with the :admin flag', () => {
    const config = loadConfig({ INVOQ_AWS_CREDENTIALS: 'AKID1:secret1,AKID2:secret2:admin' });
    expect(config.auth.accessKeys.get('AKID2')).toEqual({ accessKeyId: 'AKID2', secret: 'secret2', admin: true });
    expect(config.auth.accessKeys.get('AKID1')?.admin).toBe(false);
  });

  it.each([
    [{ PORT: 'abc' }, /^PORT:/],
    [{ INVOQ_WORKER_CONCURRENCY: '0' }, /^INVOQ_WORKER_CONCURRENCY:/],
    [{ INVOQ_MAX_REDIS_MEMORY_PERCENT: '0' }, /^INVOQ_MAX_REDIS_MEMORY_PERCENT:/],
    [{ INVOQ_MAX_REDIS_MEMORY_PERCENT: '101' }, /^INVOQ_MAX_REDIS_MEMORY_PERCENT:/],
    [{ REDIS_URL: 'http://x' }, /^REDIS_URL:/],
    [{ INVOQ_AUTH: 'maybe' }, /^INVOQ_AUTH:/],
    [{ INVOQ_QUEUE_PREFIX: 'a:b' }, /^INVOQ_QUEUE_PREFIX:/],
    [{ INVOQ_REGION: 'Mars' }, /^INVOQ_REGION:/],
    [{ INVOQ_AWS_CREDENTIALS: 'nosecret' }, /^INVOQ_AWS_CREDENTIALS:/],
    [{ NODE_ENV: 'production' }, /^INVOQ_API_KEYS:.*production/],
    [{ HOST: '0.0.0.0' }, /^INVOQ_API_KEYS:.*not loopback/],
    [{ HOST: '0.0.0.0', INVOQ_AUTH: 'off', INVOQ_API_KEYS: 'k' }, /^INVOQ_AUTH:.*loopback/],
  ])('refuses %j with one line naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '' }).port).toBe(3000);
  });

  it('selects one Redis: a URL, a Cluster or a master through Sentinel', () => {
    expect(loadConfig({ REDIS_URL: 'redis://r:6379/2' }).redis).toEqual({ kind: 'standalone', url: 'redis://r:6379/2' });
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001,[::1]:7002' }).redis).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'mymaster' }).redis).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      masterName: 'mymaster',
    });
  });

  it('gives a Cluster or a Sentinel-named master the REDIS_USERNAME / REDIS_PASSWORD, and Sentinels theirs', () => {
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_PASSWORD: 'pw' }).redis).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'a', port: 7000 }],
      auth: { password: 'pw' },
    });
    expect(
      loadConfig({ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm', REDIS_USERNAME: 'invoq', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'spw' }).redis,
    ).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: 's', port: 26379 }],
      masterName: 'm',
      auth: { username: 'invoq', password: 'pw' },
      sentinelPassword: 'spw',
    });
  });

  it('uses a Cluster or Sentinel instead of REDIS_URL, and says so', () => {
    const config = loadConfig({ REDIS_URL: 'redis://r', REDIS_CLUSTER_NODES: 'a:7000' });
    expect(config.redis).toEqual({ kind: 'cluster', nodes: [{ host: 'a', port: 7000 }] });
    expect(config.startupNotices).toContain('REDIS_URL is ignored: REDIS_CLUSTER_NODES is set');
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'a:7000,b' }, /^REDIS_CLUSTER_NODES: each entry must be host:port/],
    [{ REDIS_SENTINELS: 'http://s:1' }, /^REDIS_SENTINELS: each entry must be host:port/],
    [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm' }, /^REDIS_CLUSTER_NODES, REDIS_SENTINELS: set only one of them/],
    [{ REDIS_SENTINELS: 's:26379' }, /^REDIS_SENTINEL_NAME: REDIS_SENTINELS needs the name/],
    [{ REDIS_SENTINEL_NAME: 'm' }, /^REDIS_SENTINELS: REDIS_SENTINEL_NAME is set but no sentinel is/],
    [{ REDIS_URL: 'redis://r', REDIS_PASSWORD: 'pw' }, /^REDIS_PASSWORD: only for REDIS_CLUSTER_NODES or REDIS_SENTINELS; with REDIS_URL, put it in the URL/],
    [{ REDIS_USERNAME: 'u' }, /^REDIS_USERNAME: only for REDIS_CLUSTER_NODES or REDIS_SENTINELS/],
    [{ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINEL_PASSWORD: 'spw' }, /^REDIS_SENTINEL_PASSWORD: set, but REDIS_SENTINELS is not/],
  ])('refuses a bad Redis selection %j', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});
