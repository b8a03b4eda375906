import { close, open, read } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import type { Socket } from 'node:net';

/**
 * Who is on the other end of a loopback connection to an environment's Runtime API, as far as
 * Linux's /proc tells: the connecting socket's inode from `/proc/net/tcp` (or `tcp6`), then a
 * process of the environment's session holding `socket:[inode]` among its descriptors.
 *
 * An execution environment is a child spawned with `detached: true`, so it leads its own session
 * (session id = its pid) and everything it starts stays in it (the sandbox starts no new session).
 * A process cannot join another session: `setsid` only makes a new one, `setpgid` only moves
 * within the caller's own. Linux does not reuse a pid while it still names a live session, so the
 * id cannot come to mean another environment while any of this one's processes lives.
 *
 * - `member`: a process of the session holds the connecting socket.
 * - `stranger`: none does (or the socket is already gone, or its descriptors cannot be read).
 * - `unavailable`: no /proc/net/tcp (not Linux); the caller decides, and invoq's allows.
 *
 * The cost, once per connection: a (partial) read of /proc/net/tcp and a `readlink` per descriptor
 * of the session leader: 0.8 ms measured on a 2-core VM at load 3, up to 6 ms at load 8
 * (runtime-api-peer.test.ts prints it). When the leader does not hold the socket (a runtime the
 * leader forked, e.g. under bubblewrap, or a stranger) add one `stat` read per process on the host
 * and the descriptors of the session's other processes: 7 ms (load 3) to 18 ms (load 8) with 110.
 */
export type PeerCheck = { kind: 'member'; pid: number } | { kind: 'stranger'; reason: string } | { kind: 'unavailable'; reason: string };

export interface PeerCheckOptions {
  /** Where procfs is mounted (tests point it elsewhere). */
  procRoot?: string;
  /**
   * Processes of the session likely to hold the socket (the runtime itself, which under bubblewrap
   * is not the session leader): looked at before a scan. Only a hint: each must be in the session.
   */
  likelyHolders?: () => number[];
}

// How many /proc files are read at once while scanning processes.
const SCAN_BATCH = 64;
// A `stat` line up to its session field: pid, a command name of at most 64 bytes, four short fields.
const STAT_HEAD = 256;

export async function checkSocketPeer(socket: Socket, sessionId: number, options: PeerCheckOptions = {}): Promise<PeerCheck> {
  const proc = options.procRoot ?? '/proc';
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (!remoteAddress || !remotePort || !localAddress || !localPort) return { kind: 'stranger', reason: 'the connection is closed' };

  const inode = await findClientInode(proc, { address: remoteAddress, port: remotePort }, { address: localAddress, port: localPort });
  if (inode.kind !== 'found') return inode.kind === 'unavailable' ? inode : { kind: 'stranger', reason: inode.reason };
  const link = `socket:[${inode.inode}]`;

  // The session leader first: most often the runtime itself, found without a scan.
  if (await holdsLink(proc, sessionId, link)) return { kind: 'member', pid: sessionId };
  for (const pid of options.likelyHolders?.() ?? []) {
    if (pid !== sessionId && (await sessionOf(proc, pid)) === sessionId && (await holdsLink(proc, pid, link))) return { kind: 'member', pid };
  }
  for (const pid of await sessionMembers(proc, sessionId)) {
    if (pid !== sessionId && (await holdsLink(proc, pid, link))) return { kind: 'member', pid };
  }
  return { kind: 'stranger', reason: `no process of session ${sessionId} holds the connecting socket` };
}

/** `RuntimeApiServer`'s `authorize` for the environment whose session is `sessionId()` (undefined: not started, refuse). */
export function sessionAuthorizer(sessionId: () => number | undefined, options: PeerCheckOptions = {}): (socket: Socket) => Promise<boolean> {
  return async (socket) => {
    const id = sessionId();
    if (id === undefined) return false;
    const check = await checkSocketPeer(socket, id, options);
    // Without /proc there is nothing to check against; the environment stays reachable, as before the check existed.
    return check.kind !== 'stranger';
  };
}

interface Endpoint {
  address: string;
  port: number;
}

type InodeLookup = { kind: 'found'; inode: string } | { kind: 'missing'; reason: string } | { kind: 'unavailable'; reason: string };

/** The line of `/proc/net/tcp[6]` whose local end is the client's and remote end the server's. */
async function findClientInode(proc: string, client: Endpoint, server: Endpoint): Promise<InodeLookup> {
  // Node reports a plain dotted address for an IPv4 socket; anything else was accepted on an IPv6 one.
  const v4 = !client.address.includes(':') && !server.address.includes(':');
  const file = `${proc}/net/${v4 ? 'tcp' : 'tcp6'}`;
  const encode = v4 ? encodeIpv4 : encodeIpv6;
  const local = endpointHex(encode(client.address), client.port);
  const remote = endpointHex(encode(server.address), server.port);
  if (!local || !remote) return { kind: 'missing', reason: `cannot look up ${client.address} → ${server.address} in ${file}` };
  let inode: string | undefined;
  try {
    inode = await scanTable(file, local, remote);
  } catch {
    return { kind: 'unavailable', reason: `${file} cannot be read (not Linux?)` };
  }
  if (inode) return { kind: 'found', inode };
  return { kind: 'missing', reason: `no socket ${client.address}:${client.port} → ${server.address}:${server.port} in ${file}` };
}

// The kernel builds /proc/net/tcp by walking its whole connection hash table, empty buckets too
// (milliseconds on a large machine), and a read stops walking once the reader's buffer is full. So the
// table is read in small chunks, growing, and reading stops at the wanted row.
const FIRST_CHUNK = 1024;
const LAST_CHUNK = 64 * 1024;

async function scanTable(file: string, localHex: string, remoteHex: string): Promise<string | undefined> {
  const fd = await new Promise<number>((resolve, reject) => open(file, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
  try {
    let carry = '';
    for (let size = FIRST_CHUNK; ; size = Math.min(size * 2, LAST_CHUNK)) {
      const chunk = await readChunk(fd, size);
      if (chunk.length === 0) return inodeOf(carry, localHex, remoteHex);
      const text = carry + chunk.toString('latin1');
      const cut = text.lastIndexOf('\n') + 1;
      const inode = inodeOf(text.slice(0, cut), localHex, remoteHex);
      if (inode) return inode;
      carry = text.slice(cut);
    }
  } finally {
    close(fd, () => undefined);
  }
}

function readChunk(fd: number, size: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(size);
  return new Promise((resolve, reject) => read(fd, buffer, 0, size, null, (error, bytes) => (error ? reject(error) : resolve(buffer.subarray(0, bytes)))));
}

/** The first `size` bytes of a file: enough of a `stat` line to reach the session. */
async function readHead(path: string, size: number): Promise<string> {
  const fd = await new Promise<number>((resolve, reject) => open(path, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
  try {
    return (await readChunk(fd, size)).toString('latin1');
  } finally {
    close(fd, () => undefined);
  }
}

/** Finds the inode (field 10) of the row with these local and remote addresses; `0` (a socket being torn down) is no match. */
export function inodeOf(table: string, localHex: string, remoteHex: string): string | undefined {
  for (const line of table.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] === localHex && fields[2] === remoteHex) {
      const inode = fields[9];
      if (inode && inode !== '0') return inode;
    }
  }
  return undefined;
}

function endpointHex(address: string | undefined, port: number): string | undefined {
  return address === undefined ? undefined : `${address}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

function ipv4Of(address: string): number[] | undefined {
  const text = address.startsWith('::ffff:') ? address.slice(7) : address;
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((part) => Number(part));
  return bytes.every((byte) => Number.isInteger(byte) && byte >= 0 && byte <= 255) ? bytes : undefined;
}

// proc(5): each 32-bit word of the address is printed with %08X in host byte order.
function word(bytes: number[]): string {
  const ordered = endianness() === 'LE' ? [...bytes].reverse() : bytes;
  return ordered.map((byte) => byte.toString(16).toUpperCase().padStart(2, '0')).join('');
}

export function encodeIpv4(address: string): string | undefined {
  const bytes = ipv4Of(address);
  return bytes ? word(bytes) : undefined;
}

/** Only the IPv4-mapped form (`::ffff:a.b.c.d`) and `::1`: all a loopback server can see. */
export function encodeIpv6(address: string): string | undefined {
  if (address === '::1') return `${word([0, 0, 0, 0])}${word([0, 0, 0, 0])}${word([0, 0, 0, 0])}${word([0, 0, 0, 1])}`;
  const v4 = address.startsWith('::ffff:') ? ipv4Of(address) : undefined;
  return v4 ? `${word([0, 0, 0, 0])}${word([0, 0, 0, 0])}${word([0, 0, 0xff, 0xff])}${word(v4)}` : undefined;
}

/** Field 6 of `/proc/<pid>/stat`, read after the last `)` since the command name may hold spaces and parentheses. */
export function sessionOfStat(stat: string): number | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  // After ")": state, ppid, pgrp, session.
  const session = Number(
    stat
      .slice(close + 1)
      .trim()
      .split(/\s+/)[3],
  );
  return Number.isInteger(session) ? session : undefined;
}

function sessionOf(proc: string, pid: number): Promise<number | undefined> {
  return readHead(`${proc}/${pid}/stat`, STAT_HEAD).then(sessionOfStat, () => undefined);
}

async function sessionMembers(proc: string, sessionId: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir(proc);
  } catch {
    return [];
  }
  const pids = entries.filter((entry) => /^[0-9]+$/.test(entry)).map(Number);
  const members: number[] = [];
  for (let start = 0; start < pids.length; start += SCAN_BATCH) {
    const batch = pids.slice(start, start + SCAN_BATCH);
    const sessions = await Promise.all(batch.map((pid) => sessionOf(proc, pid)));
    batch.forEach((pid, index) => {
      if (sessions[index] === sessionId) members.push(pid);
    });
  }
  return members;
}

async function holdsLink(proc: string, pid: number, link: string): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`${proc}/${pid}/fd`);
  } catch {
    return false; // Gone, or not ours to read.
  }
  for (let start = 0; start < fds.length; start += SCAN_BATCH) {
    const targets = await Promise.all(fds.slice(start, start + SCAN_BATCH).map((fd) => readlink(`${proc}/${pid}/fd/${fd}`).catch(() => '')));
    if (targets.includes(link)) return true;
  }
  return false;
}
