// Starts and stops a private `redis-server` (the system binary) for `npm start` and the tests.
// Node built-ins only, so it works before any workspace is built.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const HOST = '127.0.0.1'; // never listen beyond loopback: these servers have no password
const LOG_TAIL_BYTES = 16 * 1024;

/** Absolute path of `redis-server` on PATH, or null when it is not installed. */
export function redisServerBinary() {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/** A port that was free a moment ago (the kernel picks it; we close before redis binds it). */
export function freePort(host = HOST) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Sends one command (RESP text) to host:port and resolves with what `read(reply so far)` returns
 * once it returns anything but undefined; with `fallback` on a timeout, an error or a close.
 */
function askRedis(host, port, command, read, fallback, timeoutMs) {
  return new Promise((resolve) => {
    let buf = '';
    const done = (value) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(fallback), timeoutMs);
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    sock.once('connect', () => sock.write(command));
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      const value = read(buf);
      if (value !== undefined) done(value);
    });
    sock.once('error', () => done(fallback));
    sock.once('close', () => done(fallback));
  });
}

/**
 * True when host:port answers PING with +PONG within timeoutMs. Anything else (refused, timeout,
 * -LOADING while an AOF replays, -NOAUTH, not Redis at all) is false.
 */
export function pingRedis(host, port, timeoutMs = 300) {
  return askRedis(host, port, '*1\r\n$4\r\nPING\r\n', (reply) => (reply.includes('\r\n') ? reply.startsWith('+PONG') : undefined), false, timeoutMs);
}

/**
 * The `process_id` of the Redis answering on host:port (from `INFO server`), or null if none
 * answers within timeoutMs. Tells our server from another one already bound to that port.
 */
export function redisProcessId(host, port, timeoutMs = 500) {
  return askRedis(
    host,
    port,
    '*2\r\n$4\r\nINFO\r\n$6\r\nserver\r\n',
    (reply) => {
      if (!reply.startsWith('$')) return null; // an error (-LOADING, -NOAUTH): not known
      const pid = /\r\nprocess_id:(\d+)\r\n/.exec(reply);
      return pid ? Number(pid[1]) : undefined;
    },
    null,
    timeoutMs,
  );
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start redis-server on a free loopback port and wait until it answers PING.
 *
 * @param {object} [opts]
 * @param {boolean} [opts.appendonly=false] AOF with `appendfsync always` (nothing acknowledged is
 *   lost on a crash); otherwise no persistence at all.
 * @param {string} [opts.dir] data directory (created). Default: a fresh temp dir, removed by stop().
 * @param {boolean} [opts.detached=false] own session, so a terminal Ctrl-C does not reach it and the
 *   caller decides when it stops (the launcher stops it after the apps).
 * @param {string[]} [opts.args] extra redis-server arguments.
 * @param {number} [opts.timeoutMs=10000] deadline for the first PONG.
 * @returns {Promise<{url: string, port: number, pid: number, exited: Promise<{code, signal}>,
 *   logTail(): string, stop(opts?: {timeoutMs?: number}): Promise<void>}>}
 */
export async function startRedisServer({
  appendonly = false,
  dir,
  detached = false,
  args = [],
  timeoutMs = 10_000,
} = {}) {
  const bin = redisServerBinary();
  if (!bin) {
    throw new Error('redis-server not found on PATH; install it (apt-get install redis-server)');
  }

  const ownDir = !dir; // a temp dir is ours to delete; a given dir holds data to keep
  const dataDir = dir ? path.resolve(dir) : mkdtempSync(path.join(tmpdir(), 'invoq-redis-'));
  mkdirSync(dataDir, { recursive: true });

  // freePort() can race with another process grabbing the port before redis binds it; the only
  // symptom is "Address already in use", so retry that with a new port a few times.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await launch(bin, port, dataDir, ownDir, { appendonly, detached, args, timeoutMs });
    } catch (err) {
      if (!err.addressInUse || attempt >= 5) {
        if (ownDir) rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

async function launch(bin, port, dataDir, ownDir, { appendonly, detached, args, timeoutMs }) {
  const argv = [
    '--port', String(port),
    '--bind', HOST,
    '--daemonize', 'no', // we own the process; it must not fork away from us
    '--dir', dataDir,
    '--save', '', // no RDB snapshots: AOF (or nothing) is the persistence
    '--maxmemory-policy', 'noeviction', // BullMQ needs it; evicted jobs would vanish silently
    ...(appendonly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...args,
  ];

  const child = spawn(bin, argv, { stdio: ['ignore', 'pipe', 'pipe'], detached });

  // Redis logs to stdout. Keep draining both pipes (a full pipe would block redis) and keep a
  // tail to explain a failure.
  let tail = '';
  const keep = (chunk) => {
    tail = (tail + chunk.toString()).slice(-LOG_TAIL_BYTES);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve((exitInfo = { code, signal })));
    child.once('error', (err) => {
      keep(`\n${err.message}\n`);
      resolve((exitInfo = { code: null, signal: null, error: err }));
    });
  });

  // Safety net: if our process exits without calling stop() (crash, process.exit, a test run
  // aborted), do not leave redis or its temp dir behind. 'exit' handlers must be synchronous, so
  // signal without waiting (a temp-dir server has nothing to save).
  const killOnExit = () => {
    if (!exitInfo) child.kill('SIGTERM');
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);

  // Do not let a forgotten server keep our event loop alive; the exit hook then cleans it up.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();

  const fail = async (why) => {
    if (!exitInfo) {
      child.kill('SIGKILL');
      await exited;
    }
    process.off('exit', killOnExit);
    const err = new Error(
      `redis-server (${bin}, port ${port}) ${why}\n--- redis-server output ---\n${tail.trim() || '(none)'}`,
    );
    err.addressInUse = /address already in use/i.test(tail);
    throw err;
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitInfo) {
      await fail(`exited during start (code ${exitInfo.code}, signal ${exitInfo.signal})`);
    }
    // A PONG from another server already on that port (ours then exits, "address in use")
    // must not pass for ours.
    if ((await pingRedis(HOST, port, 250)) && (await redisProcessId(HOST, port)) === child.pid) break;
    if (Date.now() > deadline) await fail(`did not answer PING within ${timeoutMs} ms`);
    await sleep(50);
  }

  let stopping = null;
  const stop = ({ timeoutMs: graceMs = 10_000 } = {}) => {
    stopping ??= (async () => {
      if (!exitInfo) {
        // SIGTERM makes redis fsync the AOF and exit cleanly. The timer also keeps our event loop
        // alive while we wait (the child itself is unref'd).
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killOnExit);
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  return {
    url: `redis://${HOST}:${port}`,
    port,
    pid: child.pid,
    exited,
    logTail: () => tail,
    stop,
  };
}

/**
 * Start a Redis Cluster of `masters` redis-servers (no replicas) on free loopback ports, each
 * with its own temp dir, and wait until every node says `cluster_state:ok`. The slots are
 * assigned with `redis-cli --cluster create` (Debian's redis-server brings redis-cli).
 *
 * @param {object} [opts]
 * @param {number} [opts.masters=3]
 * @param {string[]} [opts.args] extra redis-server arguments for every node.
 * @param {number} [opts.timeoutMs=20000] deadline for the cluster to be ok.
 * @returns {Promise<{nodes: string, ports: number[], servers: object[], stop(): Promise<void>}>}
 *   `nodes` is the `host:port,…` list REDIS_CLUSTER_NODES takes.
 */
export async function startRedisCluster({ masters = 3, args = [], timeoutMs = 20_000 } = {}) {
  const servers = [];
  const stop = () => Promise.all(servers.map((s) => s.stop({ timeoutMs: 2000 })));
  try {
    for (let i = 0; i < masters; i++) {
      // An explicit bus port: the default (port + 10000) does not exist for ports above 55535.
      const busPort = await freePort();
      servers.push(await startRedisServer({ args: ['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', ...args] }));
    }
    const addresses = servers.map((s) => `${HOST}:${s.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], timeoutMs);
    const deadline = Date.now() + timeoutMs;
    for (const s of servers) {
      while (!/cluster_state:ok/.test(await run('redis-cli', ['-h', HOST, '-p', String(s.port), 'cluster', 'info'], timeoutMs))) {
        if (Date.now() > deadline) throw new Error(`Redis Cluster node ${HOST}:${s.port} not ok within ${timeoutMs} ms`);
        await sleep(50);
      }
    }
    return { nodes: addresses.join(','), ports: servers.map((s) => s.port), servers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Runs a command to completion; resolves with its stdout, rejects with its output on failure. */
function run(command, argv, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${argv.join(' ')} exited with ${code}:\n${out}`))));
  });
}
