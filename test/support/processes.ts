import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import IORedis from 'ioredis';
import { REPO_ROOT, freePort, waitFor } from './harness';

/**
 * A redis-server of a test's own, for tests that kill and restart Redis (the shared one from
 * jest's globalSetup must not go away under other files). AOF with `appendfsync always`, as the
 * contract's durable setup.
 */
export class OwnRedis {
  private process: ChildProcess | undefined;
  constructor(readonly dir: string, readonly port: number, readonly password?: string, private readonly extraArgs: string[] = []) {}

  /** `password`: the server's `requirepass` (the URL carries it); `args`: more redis-server flags. */
  static async create(dir: string, { password, args = [] }: { password?: string; args?: string[] } = {}): Promise<OwnRedis> {
    return new OwnRedis(dir, await freePort(), password, args);
  }

  get url(): string {
    return `redis://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.process = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction', ...(this.password ? ['--requirepass', this.password] : []), ...this.extraArgs], { stdio: 'ignore' });
    const probe = new IORedis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await waitFor(async () => probe.connect().then(() => probe.ping()).then((r) => r === 'PONG', () => false), 10_000, 'redis-server to answer');
    } finally {
      probe.disconnect();
    }
  }

  /** SIGSTOP: Redis stays connected but answers nothing, as when frozen or partitioned. */
  freeze(): void {
    this.process?.kill('SIGSTOP');
  }

  /** SIGCONT after `freeze`. */
  thaw(): void {
    this.process?.kill('SIGCONT');
  }

  /** SIGKILL: no shutdown save, as a crash. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** An invoq tier as its own process (`apps/<tier>/dist/main.js`), as `npm run api|worker` runs it. */
export function spawnTier(tier: 'api' | 'worker', env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [path.join(REPO_ROOT, `apps/${tier}/dist/main.js`)], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  return exited;
}
