import type { RedisTarget } from './load-config';

/**
 * The Redis a process uses, for its start-up log line: a URL's password is masked, and a Cluster's
 * or Sentinel's credentials are never in it.
 */
export function describeRedisTarget(target: RedisTarget): string {
  const hosts = (list: { host: string; port: number }[]) =>
    list.map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)).join(',');
  switch (target.kind) {
    case 'standalone':
      return maskPassword(target.url);
    case 'cluster':
      return `cluster ${hosts(target.nodes)}`;
    case 'sentinel':
      return `master "${target.masterName}" via sentinels ${hosts(target.sentinels)}`;
  }
}

function maskPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}
