import { describeRedisTarget } from './describe-redis';

describe('describeRedisTarget', () => {
  it.each([
    [{ kind: 'standalone', url: 'redis://127.0.0.1:6380' }, 'redis://127.0.0.1:6380'],
    [{ kind: 'standalone', url: 'rediss://user:s3cret@r.example:6379/2' }, 'rediss://user:***@r.example:6379/2'],
    [
      {
        kind: 'cluster',
        nodes: [
          { host: 'a', port: 7000 },
          { host: '::1', port: 7001 },
        ],
        auth: { password: 'pw' },
      },
      'cluster a:7000,[::1]:7001',
    ],
    [{ kind: 'sentinel', sentinels: [{ host: 's', port: 26379 }], masterName: 'mymaster', sentinelPassword: 'spw' }, 'master "mymaster" via sentinels s:26379'],
  ] as const)('describes %j without its secrets', (target, described) => {
    expect(describeRedisTarget(target as never)).toBe(described);
  });
});
