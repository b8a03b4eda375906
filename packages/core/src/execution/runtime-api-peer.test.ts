import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { endianness, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkSocketPeer, encodeIpv4, encodeIpv6, inodeOf, sessionAuthorizer, sessionOfStat } from './runtime-api-peer';

const onLinux = existsSync('/proc/net/tcp');
const linuxIt = onLinux ? it : it.skip;

describe('runtime-api-peer parsing', () => {
  it('reads the session after the last parenthesis, whatever the command name holds', () => {
    expect(sessionOfStat('4242 (node) S 1 4242 4242 0 -1 4194560 0')).toBe(4242);
    expect(sessionOfStat('77 (a) b) (c d) R 10 11 12 0 -1')).toBe(12);
    expect(sessionOfStat('garbage')).toBeUndefined();
  });

  it('encodes addresses as proc(5) prints them and finds the row', () => {
    const le = endianness() === 'LE';
    expect(encodeIpv4('127.0.0.1')).toBe(le ? '0100007F' : '7F000001');
    expect(encodeIpv6('::ffff:127.0.0.1')).toBe(le ? '0000000000000000FFFF00000100007F' : '00000000000000000000FFFF7F000001');
    expect(encodeIpv6('::1')).toBe(le ? '00000000000000000000000001000000' : '00000000000000000000000000000001');
    const table = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:9C40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0',
      '   1: 0100007F:D431 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1',
      '   2: 0100007F:9C40 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1',
      '   3: 0100007F:D432 0100007F:9C40 06 00000000:00000000 03:00000000 00000000     0        0 0 3 0',
    ].join('\n');
    expect(inodeOf(table, '0100007F:D431', '0100007F:9C40')).toBe('222');
    // A TIME_WAIT row has no inode: nobody holds it.
    expect(inodeOf(table, '0100007F:D432', '0100007F:9C40')).toBeUndefined();
  });
});

describe('checkSocketPeer', () => {
  let server: Server;
  const sockets: Socket[] = [];

  beforeEach(async () => {
    server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    sockets.splice(0).forEach((socket) => socket.destroy());
    await new Promise((resolve) => server.close(resolve));
  });

  /** Connects from the test process and resolves with the server's end of it. */
  function connectFromHere(): Promise<Socket> {
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    sockets.push(connect((server.address() as { port: number }).port, '127.0.0.1'));
    return accepted;
  }

  const ownSession = () => sessionOfStat(readFileSync('/proc/self/stat', 'latin1'))!;

  linuxIt('finds the connecting process in its own session, and not in another', async () => {
    const socket = await connectFromHere();
    expect(await checkSocketPeer(socket, ownSession())).toEqual({ kind: 'member', pid: process.pid });

    // A detached child leads a session of its own that holds nothing of ours.
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true });
    const exited = new Promise((resolve) => other.once('exit', resolve));
    try {
      expect(await checkSocketPeer(socket, other.pid!)).toMatchObject({ kind: 'stranger' });
      expect(await sessionAuthorizer(() => other.pid)(socket)).toBe(false);
      expect(await sessionAuthorizer(() => undefined)(socket)).toBe(false);
      expect(await sessionAuthorizer(() => ownSession())(socket)).toBe(true);
    } finally {
      other.kill('SIGKILL');
      await exited;
    }
  });

  linuxIt('measures one check on this machine: the session leader holding the socket, and a full scan', async () => {
    // A detached child (a session of its own, as an environment is) holds the connection.
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const port = (server.address() as { port: number }).port;
    const child = spawn(process.execPath, ['-e', `require('net').connect(${port}, '127.0.0.1'); setInterval(() => {}, 1000)`], {
      stdio: 'ignore',
      detached: true,
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      const socket = await accepted;
      expect(await checkSocketPeer(socket, child.pid!)).toEqual({ kind: 'member', pid: child.pid });
      const time = async (sessionId: number) => {
        const rounds = 50;
        const started = process.hrtime.bigint();
        for (let i = 0; i < rounds; i++) await checkSocketPeer(socket, sessionId);
        return Number(process.hrtime.bigint() - started) / 1e6 / rounds;
      };
      const leader = await time(child.pid!);
      // A process of the session other than its leader, or a stranger, costs a scan of every process's stat.
      const scan = await time(999_999_999);
      const processes = readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry)).length;
      console.log(
        `runtime-api-peer: ${leader.toFixed(2)} ms per check when the session leader holds the socket, ${scan.toFixed(2)} ms with a full scan of ${processes} processes`,
      );
      expect(scan).toBeLessThan(1000);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('says the check is unavailable without /proc/net/tcp', async () => {
    const socket = await connectFromHere();
    const empty = mkdtempSync(join(tmpdir(), 'invoq-noproc-'));
    try {
      expect(await checkSocketPeer(socket, 1, { procRoot: empty })).toMatchObject({ kind: 'unavailable' });
      // The caller then lets the connection through.
      expect(await sessionAuthorizer(() => 1, { procRoot: empty })(socket)).toBe(true);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
