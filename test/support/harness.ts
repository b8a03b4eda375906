import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createLogger, loadConfig, type ResolvedConfig } from '@invoq/core';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const EXAMPLE_FUNCTIONS_DIR = path.join(REPO_ROOT, 'functions');

export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (its globalSetup starts Redis)');
  return url;
}

/** A key prefix no other test file shares, so files can run side by side on one Redis. */
export function uniquePrefix(label: string): string {
  return `t-${label}-${randomUUID().slice(0, 8)}`;
}

/** A config as the processes would load it, on a random port, with test-friendly overrides. */
export function testConfig(env: Record<string, string | undefined> = {}): ResolvedConfig {
  return loadConfig({
    REDIS_URL: testRedisUrl(),
    PORT: '0',
    INVOQ_METRICS_PORT: '0',
    INVOQ_FUNCTIONS_DIR: EXAMPLE_FUNCTIONS_DIR,
    LOG_LEVEL: 'silent',
    // In CI the sandbox must work (bwrap installed); elsewhere a plain process will do.
    INVOQ_PROCESS_SANDBOX: process.env.CI === 'true' ? 'bubblewrap' : 'auto',
    ...env,
  });
}

export const silentLogger = () => createLogger('silent', 'test');

export interface FunctionFixture {
  config: Record<string, unknown>;
  /** File name → source. */
  files: Record<string, string>;
}

/** Writes functions into a fresh temporary INVOQ_FUNCTIONS_DIR. */
export function makeFunctionsDir(functions: Record<string, FunctionFixture>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-fns-'));
  for (const [name, fixture] of Object.entries(functions)) {
    const fnDir = path.join(dir, name);
    fs.mkdirSync(fnDir);
    fs.writeFileSync(path.join(fnDir, 'function.json'), JSON.stringify(fixture.config));
    for (const [file, source] of Object.entries(fixture.files)) fs.writeFileSync(path.join(fnDir, file), source);
  }
  return dir;
}

/** Polls `check` until it returns a value other than undefined/false, or fails at the deadline. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A loopback port that was free a moment ago. */
export { freePort } from '../../scripts/local-redis.cjs';
