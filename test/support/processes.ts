import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { freePort, startRedisServer, type RedisServer } from '../../scripts/local-redis.cjs';
import { serviceNodeFlags } from '@invoq/core';
import { REPO_ROOT } from './harness';

/**
 * A redis-server of a test's own, for tests that kill and restart Redis (the shared one from
 * jest's globalSetup must not go away under other files). AOF with `appendfsync always`, as the
 * contract's durable setup; the same port and dir on every `start()`, so a restart replays the AOF.
 */
export class OwnRedis {
  private server: RedisServer | undefined;
  constructor(
    readonly dir: string,
    readonly port: number,
    readonly password?: string,
    private readonly extraArgs: string[] = [],
  ) {}

  /** `password`: the server's `requirepass` (the URL carries it); `args`: more redis-server flags. */
  static async create(dir: string, { password, args = [] }: { password?: string; args?: string[] } = {}): Promise<OwnRedis> {
    return new OwnRedis(dir, await freePort(), password, args);
  }

  get url(): string {
    return `redis://${this.password ? `:${encodeURIComponent(this.password)}@` : ''}127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = await startRedisServer({ port: this.port, dir: this.dir, aof: 'always', password: this.password, args: this.extraArgs });
  }

  /** SIGSTOP: Redis stays connected but answers nothing, as when frozen or partitioned. */
  freeze(): void {
    this.server?.freeze();
  }

  /** SIGCONT after `freeze`. */
  thaw(): void {
    this.server?.thaw();
  }

  /** SIGKILL: no shutdown save, as a crash. */
  async kill(): Promise<void> {
    await this.server?.kill();
  }
}

/** An invoq tier as its own process (`apps/<tier>/dist/main.js`), as `npm run api|worker` runs it. */
export function spawnTier(tier: 'api' | 'worker', env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...serviceNodeFlags(''), path.join(REPO_ROOT, `apps/${tier}/dist/main.js`)], {
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
