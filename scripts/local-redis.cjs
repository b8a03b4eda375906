// Local Redis for `npm start`, the benches and the tests: start a private `redis-server` (the
// system binary) or a Redis Cluster of them, find a free port, stop, kill, freeze and thaw.
// Node built-ins only, so it works before any workspace is built. CommonJS with a `.d.cts` beside
// it: plain `.mjs` scripts import it as they are, and jest's TypeScript tests (compiled to
// CommonJS, which cannot `require` an ES module under jest) import it typed.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { accessSync, constants, mkdirSync, mkdtempSync, rmSync, statSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { redisCommand } = require('./redis-protocol.cjs');

const HOST = '127.0.0.1'; // never listen beyond loopback: these servers may have no password
const LOG_TAIL_BYTES = 16 * 1024;
const CLUSTER_SLOTS = 16384;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Absolute path of `redis-server` on PATH, or null when it is not installed. */
function redisServerBinary() {
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
function freePort(host = HOST) {
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
 * True when host:port answers PING with PONG within timeoutMs. Anything else (refused, timeout,
 * -LOADING while an AOF replays, -NOAUTH, not Redis at all) is false.
 */
function redisAnswersPing(host, port, timeoutMs = 300, password) {
  return redisCommand(port, ['PING'], { host, password, timeoutMs }).then(
    (reply) => reply === 'PONG',
    () => false,
  );
}

/**
 * The `process_id` of the Redis answering on host:port (from `INFO server`), or null if none
 * answers within timeoutMs. Tells our server from another one already bound to that port.
 */
function redisProcessId(host, port, timeoutMs = 500, password) {
  return redisCommand(port, ['INFO', 'server'], { host, password, timeoutMs }).then(
    (reply) => {
      const pid = typeof reply === 'string' ? /\r\nprocess_id:(\d+)\r\n/.exec(reply) : null;
      return pid ? Number(pid[1]) : null;
    },
    () => null,
  );
}

/** The redis-server flags every local server gets, before the caller's own `args`. */
function serverFlags({ port, dir, aof, maxmemoryBytes, password }) {
  return [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--daemonize',
    'no', // we own the process; it must not fork away from us
    '--dir',
    dir,
    '--save',
    '', // no RDB snapshots: AOF (or nothing) is the persistence
    '--maxmemory-policy',
    'noeviction', // BullMQ needs it; evicted jobs would vanish silently
    ...(aof ? ['--appendonly', 'yes', '--appendfsync', aof] : ['--appendonly', 'no']),
    ...(maxmemoryBytes !== undefined ? ['--maxmemory', String(maxmemoryBytes)] : []),
    ...(password ? ['--requirepass', password, '--masterauth', password] : []),
  ];
}

/**
 * Start redis-server on loopback and wait until it answers PING. See local-redis.d.cts for the
 * options and the handle.
 */
async function startRedisServer({ port, dir, aof, maxmemoryBytes, password, detached = false, args = [], timeoutMs = 10_000 } = {}) {
  const bin = redisServerBinary();
  if (!bin) {
    throw new Error('redis-server not found on PATH; install it (apt-get install redis-server)');
  }

  const ownDir = !dir; // a temp dir is ours to delete; a given dir holds data to keep
  const dataDir = dir ? path.resolve(dir) : mkdtempSync(path.join(tmpdir(), 'invoq-redis-'));
  mkdirSync(dataDir, { recursive: true });

  // freePort() can race with another process grabbing the port before redis binds it; the only
  // symptom is "Address already in use", so retry that with a new port a few times. A port the
  // caller chose is theirs to keep: no retry.
  for (let attempt = 1; ; attempt++) {
    const serverPort = port ?? (await freePort());
    const argv = [...serverFlags({ port: serverPort, dir: dataDir, aof, maxmemoryBytes, password }), ...args];
    try {
      return await launch(bin, argv, serverPort, dataDir, ownDir, { detached, password, timeoutMs });
    } catch (err) {
      if (!err.addressInUse || port !== undefined || attempt >= 5) {
        if (ownDir) rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

async function launch(bin, argv, port, dataDir, ownDir, { detached, password, timeoutMs }) {
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
  // signal without waiting (a temp-dir server has nothing to save); SIGCONT in case it is frozen.
  const killOnExit = () => {
    if (!exitInfo) {
      child.kill('SIGTERM');
      child.kill('SIGCONT');
    }
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
    const err = new Error(`redis-server (${bin}, port ${port}) ${why}\n--- redis-server output ---\n${tail.trim() || '(none)'}`);
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
    if ((await redisAnswersPing(HOST, port, 250, password)) && (await redisProcessId(HOST, port, 500, password)) === child.pid) break;
    if (Date.now() > deadline) await fail(`did not answer PING within ${timeoutMs} ms`);
    await sleep(50);
  }

  const signalAndWait = async (signal, graceMs) => {
    if (!exitInfo) {
      child.ref(); // keep our event loop alive until it has exited
      child.kill(signal);
      child.kill('SIGCONT'); // a frozen server acts on SIGTERM only once it runs again
      const timer = graceMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killOnExit);
  };

  let stopping = null;
  const stop = ({ timeoutMs: graceMs = 10_000 } = {}) => {
    // SIGTERM makes redis fsync the AOF and exit cleanly.
    stopping ??= signalAndWait('SIGTERM', graceMs).then(() => {
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    });
    return stopping;
  };

  return {
    url: `redis://${password ? `:${encodeURIComponent(password)}@` : ''}${HOST}:${port}`,
    host: HOST,
    port,
    pid: child.pid,
    dir: dataDir,
    exited,
    logTail: () => tail,
    stop,
    // SIGKILL, as a crash: no shutdown fsync. A given dir keeps its data for a restart.
    kill: () =>
      signalAndWait('SIGKILL').then(() => {
        if (ownDir) rmSync(dataDir, { recursive: true, force: true });
      }),
    freeze: () => {
      if (!exitInfo) child.kill('SIGSTOP');
    },
    thaw: () => {
      if (!exitInfo) child.kill('SIGCONT');
    },
  };
}

/** Major version of the system redis-server (7 has `--cluster-port` and ADDSLOTSRANGE). */
function redisServerMajorVersion() {
  const out = spawnSync(redisServerBinary() ?? 'redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? '';
  return Number(/v=(\d+)\./.exec(out)?.[1] ?? 0);
}

/** `[start, end]` slot ranges, one per master, as `redis-cli --cluster create` splits them. */
function slotRanges(masters) {
  const per = CLUSTER_SLOTS / masters;
  return Array.from({ length: masters }, (_, i) => [Math.round(i * per), Math.round((i + 1) * per) - 1]);
}

/** Throws a Redis error reply; returns any other reply. */
const expectOk = (reply) => {
  if (reply instanceof Error) throw reply;
  return reply;
};

const infoField = (info, field) => new RegExp(`^${field}:(\\S+)`, 'm').exec(info)?.[1];

/**
 * One cluster-enabled node. Redis 7 takes the bus port explicitly (`--cluster-port`): the
 * default, port + 10000, is over 65535 for a third of the kernel's ephemeral range, where
 * redis-server refuses to start. Redis 6 has no such flag, so its port must be ≤ 55535.
 */
async function startClusterNode(major, { args, ...options }) {
  let port;
  let busPort;
  if (major >= 7) busPort = await freePort();
  else while (port === undefined || port > 55535) port = await freePort();
  const clusterArgs = [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-node-timeout',
    '2000',
    ...(major >= 7 ? ['--cluster-port', String(busPort)] : []),
  ];
  const server = await startRedisServer({ ...options, port, args: [...clusterArgs, ...args] });
  return { server, busPort: busPort ?? server.port + 10000 };
}

/**
 * True when a node's `CLUSTER NODES` shows its bus link to every node connected, none still in
 * a handshake: a PUBLISH reaches only the nodes a link is up to, so a subscriber on another node
 * would miss what is published before then.
 */
function allLinksConnected(clusterNodes) {
  return clusterNodes
    .trim()
    .split('\n')
    .every((line) => {
      const fields = line.split(' ');
      return fields[7] === 'connected' && !/handshake|noaddr|fail/.test(fields[2] ?? '');
    });
}

/**
 * Start a Redis Cluster of `masters` redis-servers (no replicas) on loopback and wait until every
 * node says `cluster_state:ok`, knows every other and has its bus link to each connected. The
 * cluster is formed over plain connections (config epochs, slot ranges, MEET), which is what
 * `redis-cli --cluster create` does without its one-second waits. See local-redis.d.cts for the
 * options and the handle.
 */
async function startRedisCluster({ masters = 3, aof, password, args = [], timeoutMs = 20_000 } = {}) {
  const major = redisServerMajorVersion();
  const started = await Promise.allSettled(Array.from({ length: masters }, () => startClusterNode(major, { aof, password, args })));
  const nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const servers = nodes.map((n) => n.server);
  const stop = ({ timeoutMs: graceMs = 2000 } = {}) => Promise.all(servers.map((s) => s.stop({ timeoutMs: graceMs }))).then(() => undefined);
  try {
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const ask = (server, argv) => redisCommand(server.port, argv, { password, timeoutMs: 2000 }).then(expectOk);
    const ranges = slotRanges(masters);
    await Promise.all(
      servers.map(async (s, i) => {
        // Distinct epochs up front, as redis-cli does, so no epoch collision has to be resolved.
        await ask(s, ['CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1)]);
        const [start, end] = ranges[i];
        if (major >= 7) await ask(s, ['CLUSTER', 'ADDSLOTSRANGE', String(start), String(end)]);
        else await ask(s, ['CLUSTER', 'ADDSLOTS', ...Array.from({ length: end - start + 1 }, (_, k) => String(start + k))]);
      }),
    );
    for (const n of nodes.slice(1)) {
      await ask(servers[0], ['CLUSTER', 'MEET', HOST, String(n.server.port), ...(major >= 7 ? [String(n.busPort)] : [])]);
    }
    const deadline = Date.now() + timeoutMs;
    for (const s of servers) {
      for (;;) {
        const info = String(await ask(s, ['CLUSTER', 'INFO']));
        const ok =
          infoField(info, 'cluster_state') === 'ok' &&
          infoField(info, 'cluster_known_nodes') === String(masters) &&
          infoField(info, 'cluster_slots_ok') === String(CLUSTER_SLOTS) &&
          allLinksConnected(String(await ask(s, ['CLUSTER', 'NODES'])));
        if (ok) break;
        if (Date.now() > deadline)
          throw new Error(`Redis Cluster node ${HOST}:${s.port} not ok within ${timeoutMs} ms (ports ${servers.map((x) => x.port).join(', ')})\n${info}`);
        await sleep(20);
      }
    }
    const addresses = servers.map((s) => `${HOST}:${s.port}`);
    return { nodes: addresses.join(','), ports: servers.map((s) => s.port), servers, password, stop };
  } catch (err) {
    await Promise.all(servers.map((s) => s.kill()));
    throw err;
  }
}

module.exports = { freePort, redisServerBinary, startRedisCluster, startRedisServer };
