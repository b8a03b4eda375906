// jest globalSetup: give the suite a Redis of its own. Tests read process.env.TEST_REDIS_URL;
// jest starts its workers after this runs, so they inherit it.
import { redisServerBinary, startRedisServer } from '../scripts/local-redis.cjs';

export default async function globalSetup() {
  // An explicit TEST_REDIS_URL wins (e.g. a CI service container). We never start or stop it.
  if (process.env.TEST_REDIS_URL) return;

  if (!redisServerBinary()) {
    const hint = 'install it (apt-get install redis-server) or set TEST_REDIS_URL to a Redis the tests may wipe';
    throw new Error(
      process.env.CI === 'true'
        ? `CI: redis-server is not on PATH and TEST_REDIS_URL is unset; ${hint} (.ci/run installs it)`
        : `The tests need Redis: redis-server is not on PATH and TEST_REDIS_URL is unset; ${hint}`,
    );
  }

  // Throwaway server: free port, temp dir, no persistence. It never touches another Redis's data.
  const server = await startRedisServer();
  process.env.TEST_REDIS_URL = server.url;
  // globalSetup and globalTeardown run in the same (parent) process, so globalThis carries the
  // handle across.
  globalThis.__INVOQ_TEST_REDIS__ = server;
}
