import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../config/config-error';

/**
 * How process environments are confined. `bubblewrap` (bwrap, from Debian's `bubblewrap`) runs
 * each in namespaces of its own: it sees the host's /usr read-only, its function's code at
 * /var/task, invoq's runtime clients at /var/runtime, a private /tmp, its own /proc (no other
 * process, the service's included, is visible), no capabilities, as uid 993 (Lambda's
 * sbx_user1051). It needs no root: unprivileged user namespaces suffice. `none` runs a plain
 * child process in its own session with a clean environment and a private TMPDIR, which keeps
 * the service's variables from it but not the host's files (or /proc/<pid>/environ of the
 * service, which shares its user).
 */
export type SandboxSetting = 'auto' | 'bubblewrap' | 'none';
export type Sandbox = { kind: 'bubblewrap'; bwrap: string } | { kind: 'none' };

/** Where the sandboxed process sees things. */
export const SANDBOX_TASK_ROOT = '/var/task';
export const SANDBOX_RUNTIME_DIR = '/var/runtime';
/** Lambda's /tmp: 512 MB of ephemeral storage by default. */
const SANDBOX_TMP_BYTES = 512 * 1024 * 1024;
/** Lambda runs functions as sbx_user1051, uid 993 (gid 990). */
const SANDBOX_UID = '993';
const SANDBOX_GID = '990';

/** What of /etc a runtime needs (name resolution, TLS roots, users, the loader); nothing else. */
const ETC_FILES = [
  'resolv.conf',
  'hosts',
  'nsswitch.conf',
  'host.conf',
  'gai.conf',
  'services',
  'protocols',
  'passwd',
  'group',
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'alternatives',
  'mime.types',
  'localtime',
];

export function findOnPath(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The mounts and namespaces of one environment's sandbox, before the command. */
export function bubblewrapArgs(mounts: { codeDir: string; runtimeMounts: Array<[host: string, inside: string]>; hostDirs: string[] }): string[] {
  const args = ['--die-with-parent', '--unshare-user', '--uid', SANDBOX_UID, '--gid', SANDBOX_GID];
  args.push('--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try', '--cap-drop', 'ALL');
  args.push('--ro-bind', '/usr', '/usr');
  // Amazon Linux's /bin/sh is bash, and Lambda's custom-runtime tutorial relies on it (`source`,
  // `pipefail`); Debian's is dash. Inside the sandbox, sh is bash, as on Lambda.
  if (fs.existsSync('/usr/bin/bash')) args.push('--ro-bind', '/usr/bin/bash', '/usr/bin/sh');
  for (const top of ['bin', 'sbin', 'lib', 'lib64', 'lib32', 'libx32']) {
    const hostPath = `/${top}`;
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(hostPath);
    } catch {
      continue;
    }
    // Debian's merged /usr: /bin is a link to usr/bin, and stays one.
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(hostPath), hostPath);
    else if (stat.isDirectory()) args.push('--ro-bind', hostPath, hostPath);
  }
  for (const name of ETC_FILES) args.push('--ro-bind-try', `/etc/${name}`, `/etc/${name}`);
  args.push('--proc', '/proc', '--dev', '/dev', '--size', String(SANDBOX_TMP_BYTES), '--tmpfs', '/tmp');
  for (const dir of mounts.hostDirs) args.push('--ro-bind', dir, dir);
  for (const [host, inside] of mounts.runtimeMounts) args.push('--ro-bind', host, inside);
  args.push('--ro-bind', mounts.codeDir, SANDBOX_TASK_ROOT, '--chdir', SANDBOX_TASK_ROOT);
  return args;
}

/**
 * The sandbox `setting` asks for, checked once at start: bwrap must be on PATH and able to make
 * its namespaces (a container may forbid user namespaces). `auto` falls back to `none` and says
 * why in `notice`; `bubblewrap` throws instead.
 */
export function resolveSandbox(setting: SandboxSetting, searchPath = process.env.PATH ?? ''): { sandbox: Sandbox; notice?: string } {
  const key = `${setting}\0${searchPath}`;
  let resolved = probed.get(key);
  if (!resolved) probed.set(key, (resolved = probeSandbox(setting, searchPath)));
  return resolved;
}

/** One probe per setting and PATH: it starts a process, and tests build many tiers. */
const probed = new Map<string, { sandbox: Sandbox; notice?: string }>();

function probeSandbox(setting: SandboxSetting, searchPath: string): { sandbox: Sandbox; notice?: string } {
  if (setting === 'none')
    return { sandbox: { kind: 'none' }, notice: 'process runtimes run without a sandbox (INVOQ_PROCESS_SANDBOX=none): they can read the host’s files' };
  const bwrap = findOnPath('bwrap', searchPath);
  let failure: string | undefined;
  if (!bwrap) failure = 'bubblewrap (bwrap) is not on PATH';
  else {
    try {
      const probe = bubblewrapArgs({ codeDir: '/usr', runtimeMounts: [], hostDirs: [] });
      execFileSync(bwrap, [...probe, '/usr/bin/true'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
      failure = `bwrap cannot make its namespaces here (${stderr || (e as Error).message})`;
    }
  }
  if (!failure) return { sandbox: { kind: 'bubblewrap', bwrap: bwrap! } };
  if (setting === 'bubblewrap') throw new ConfigError(`INVOQ_PROCESS_SANDBOX: bubblewrap asked for, but ${failure}`);
  return {
    sandbox: { kind: 'none' },
    notice: `process runtimes run without a sandbox: ${failure}; install bubblewrap to confine them (see docs/runtimes.md)`,
  };
}
