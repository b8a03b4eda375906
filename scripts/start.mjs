// `npm start` (after `npm run build`): start its own Redis (or use REDIS_URL), then run the API and
// one worker, and say where they are. Ctrl-C (or SIGTERM) stops the apps first, then the Redis we
// started, and leaves nothing running.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { redisServerBinary, startRedisServer } from './local-redis.cjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const APPS = [
  { name: 'api', entry: path.join(root, 'apps/api/dist/main.js') },
  { name: 'worker', entry: path.join(root, 'apps/worker/dist/main.js') },
];
const READY_POLL_MS = 50;
// Where npm start keeps what it runs on (the embedded Redis's AOF), relative to the checkout.
const dataDir = path.resolve(root, process.env.INVOQ_DATA_DIR || '.invoq');
const say = (msg) => console.log(`[invoq] ${msg}`);
const die = (msg) => {
  console.error(`[invoq] ${msg}`);
  process.exit(1);
};

let redisStarting = null; // promise of the embedded redis-server handle, when we start one
const children = new Map(); // name -> ChildProcess, while running
let shuttingDown = false;

// Checked before anything starts, so a missing build fails at once with one line.
for (const app of APPS) {
  if (!existsSync(app.entry)) {
    die(`${path.relative(root, app.entry)} not found: run \`npm run build\` first (or use \`npm start\`)`);
  }
}
// Past the worker's own grace (it finishes or hands back running events), with room to close.
const { PROCESS_STOP_GRACE_MS: CHILD_GRACE_MS } = createRequire(import.meta.url)(path.join(root, 'packages/core/dist/config/shutdown-grace.js'));
// The flags V8 reads only at start-up (the young generation's cap), as npm run api|worker give them.
const { serviceNodeFlags } = createRequire(import.meta.url)(path.join(root, 'packages/core/dist/startup/young-generation.js'));

// Repeats are ignored on purpose: under `npm start` one Ctrl-C arrives twice (from the terminal and
// forwarded by npm), and the apps' grace period below already bounds how long stopping takes.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (shuttingDown) return;
    say(`${sig}: stopping`);
    void shutdown(0);
  });
}

// Last resort if this script dies some other way (a bug, process.exit elsewhere): the apps run in
// their own sessions (see spawnApp), so nobody else would stop them. Exit handlers must be sync.
process.on('exit', () => {
  for (const child of children.values()) child.kill('SIGKILL');
});

const redisUrl = await chooseRedis();
// A signal may have come while Redis was starting; then shutdown() owns the rest.
if (!shuttingDown) {
  const env = { ...process.env };
  if (redisUrl) env.REDIS_URL = redisUrl;
  for (const app of APPS) spawnApp(app, env);
  await announceWhenReady();
}

async function chooseRedis() {
  if (process.env.REDIS_URL) {
    say(`Redis: ${redact(process.env.REDIS_URL)} (from REDIS_URL)`);
    return process.env.REDIS_URL;
  }
  // The URL in a file (it holds the password): the apps read it, and an embedded one would clash.
  if (process.env.REDIS_URL_FILE) {
    say(`Redis: the URL in ${process.env.REDIS_URL_FILE} (from REDIS_URL_FILE)`);
    return '';
  }
  // Cluster / Sentinel settings replace REDIS_URL in the apps, so an embedded Redis would be unused.
  if (process.env.REDIS_CLUSTER_NODES || process.env.REDIS_SENTINELS) {
    say(
      `Redis: ${process.env.REDIS_CLUSTER_NODES ? `the Cluster at ${process.env.REDIS_CLUSTER_NODES} (from REDIS_CLUSTER_NODES)` : `the master Sentinel names (from REDIS_SENTINELS ${process.env.REDIS_SENTINELS})`}`,
    );
    return '';
  }
  // Never a Redis that merely answers on 6379: it may be another checkout's (whose workers would
  // run our events) or one that keeps nothing on disk (and 202 would stop meaning durable).
  if (!redisServerBinary()) {
    die(
      'REDIS_URL is unset, so npm start runs its own Redis, but redis-server is not installed: ' +
        'apt-get install redis-server (or set REDIS_URL to the Redis to use)',
    );
  }
  const dir = path.join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  refuseIfDataDirInUse(dir);
  redisStarting = startRedisServer({
    aof: 'always', // contract: the embedded Redis keeps every accepted event (AOF, fsync always)
    dir,
    detached: true, // so a terminal Ctrl-C reaches only us, and Redis outlives the apps' shutdown
    args: ['--pidfile', path.join(dir, 'redis.pid')],
  });
  let redis;
  try {
    redis = await redisStarting;
  } catch (err) {
    die(`could not start the embedded Redis: ${err.message}`);
  }
  say(`Redis: embedded, ${redis.url} (pid ${redis.pid}; data in ${shown(dir)}, AOF with appendfsync always)`);
  // If Redis dies under the apps, stop everything rather than run half-broken.
  redis.exited.then(({ code, signal }) => {
    if (shuttingDown) return;
    console.error(
      `[invoq] embedded Redis exited (code ${code}, signal ${signal}); its last output:\n` + redis.logTail().trim().split('\n').slice(-20).join('\n'),
    );
    void shutdown(1);
  });
  return redis.url;
}

// Two embedded servers writing one AOF directory would corrupt it (e.g. two `npm start` in one
// checkout); redis-server's pidfile tells us whether one is still alive there.
function refuseIfDataDirInUse(dir) {
  const pidfile = path.join(dir, 'redis.pid');
  let pid;
  try {
    pid = Number.parseInt(readFileSync(pidfile, 'utf8'), 10);
  } catch {
    return; // no pidfile: nobody is using it
  }
  try {
    if (pid > 0) {
      process.kill(pid, 0);
      die(
        `another npm start's embedded Redis (pid ${pid}) is using ${shown(dir)}: ` +
          'stop that one first (Ctrl-C in its terminal), or give this one INVOQ_DATA_DIR or REDIS_URL',
      );
    }
  } catch {
    // that process is gone: the pidfile is stale
  }
  rmSync(pidfile, { force: true });
}

function spawnApp({ name, entry }, childEnv) {
  // detached: own session, so a terminal Ctrl-C does not hit the apps as well as us; we send the one
  // SIGTERM, in order. stdin is not theirs to read; stdout/stderr go straight to the terminal.
  const child = spawn(process.execPath, [...serviceNodeFlags(childEnv.NODE_OPTIONS), entry], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.set(name, child);
  let gone = false;
  const onGone = (why) => {
    if (gone) return;
    gone = true;
    children.delete(name);
    if (!shuttingDown) {
      console.error(`[invoq] ${name} ${why}; stopping the rest`);
      void shutdown(1);
    }
  };
  child.once('exit', (code, signal) => onGone(`exited (code ${code}, signal ${signal})`));
  child.once('error', (err) => onGone(`failed to start: ${err.message}`));
}

async function shutdown(exitCode) {
  if (shuttingDown) return;
  shuttingDown = true;

  // 1. The apps, so the worker can finish or hand back its events while Redis is still up.
  const waits = [...children].map(
    ([name, child]) =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => {
          console.error(`[invoq] ${name} still running after ${CHILD_GRACE_MS / 1000} s; killing it`);
          child.kill('SIGKILL');
        }, CHILD_GRACE_MS);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  );
  await Promise.all(waits);

  // 2. The Redis we started (SIGTERM: it fsyncs the AOF and exits), never one we merely found.
  //    If it is still starting, let it come up first so that it is stopped, not orphaned.
  const redis = redisStarting && (await redisStarting.catch(() => null));
  if (redis) await redis.stop();
  process.exit(exitCode);
}

/**
 * Once the API answers, the first lines a newcomer needs: where it listens and whether auth is
 * off, asked of the API itself (an unauthenticated ListFunctions), with what the aws CLI then
 * needs. The apps log the same in JSON; these are for reading.
 */
async function announceWhenReady() {
  const host = (process.env.HOST || '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  const port = Number(process.env.PORT || 3000);
  if (!(port > 0)) return; // PORT=0: the system picks; the API's own log line says which
  // A wildcard address listens on loopback too; an IPv6 literal goes in brackets in a URL.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  const hostInUrl = reachable.includes(':') ? `[${reachable}]` : reachable;
  const base = `http://${hostInUrl}:${port}`;
  let listing;
  while (!shuttingDown && !listing) {
    listing = await fetch(`${base}/2015-03-31/functions`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
    if (!listing) await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  if (shuttingDown) return;
  await listing.arrayBuffer().catch(() => undefined);
  say(`API: ${base} (the worker's metrics: http://${hostInUrl}:${process.env.INVOQ_METRICS_PORT || 9091}/metrics)`);
  if (listing.ok) {
    say('auth is off (loopback only): any credentials will do. The aws CLI still needs some, and a region:');
    say('  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1');
  } else if (listing.status === 401 || listing.status === 403) {
    say('auth is on: send an API key (x-api-key: KEY) or sign with a pair from INVOQ_AWS_CREDENTIALS');
  }
  say('Ctrl-C stops everything');
}

function shown(dir) {
  const relative = path.relative(root, dir);
  return relative && !relative.startsWith('..') ? relative : dir;
}

function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
