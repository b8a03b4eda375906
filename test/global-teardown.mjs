// jest globalTeardown: stop the Redis that global-setup.mjs started (nothing if TEST_REDIS_URL
// was given from outside).
export default async function globalTeardown() {
  const server = globalThis.__INVOQ_TEST_REDIS__;
  if (!server) return;
  delete globalThis.__INVOQ_TEST_REDIS__;
  // We set this ourselves; clear it so a second run in the same process (jest --watch) starts a
  // fresh server instead of reusing the URL of this stopped one.
  if (process.env.TEST_REDIS_URL === server.url) delete process.env.TEST_REDIS_URL;
  await server.stop();
}
