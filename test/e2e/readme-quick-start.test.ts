/**
 * The README's first ten minutes, as written: the shell blocks of "Quick start" and of the order
 * example run with `bash -e` against a service started by `npm start`'s launcher, on a machine
 * with no AWS configuration (an empty HOME, no AWS_* variable but what the README exports). Only
 * the port is changed (the test's API for 3000), and the block that runs `npm start` itself is
 * the service. Every command must exit 0 and print what its `# …` lines promise (`…` is anything).
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, freePort, testRedisUrl, uniquePrefix } from '../support/harness';
import { copyExampleFunctions } from '../support/example-functions';
import { startLauncher, type Launcher } from '../support/launcher';

interface Command {
  source: string;
  /** The `# …` lines under it: what it prints. */
  promised: string[];
}

/** The ```sh blocks of the README section whose heading starts with `heading`. */
function shellBlocks(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n## ${heading}`);
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

/** A block's commands (a line ending in `\` continues), each with the output lines under it. */
function commandsOf(block: string): Command[] {
  const commands: Command[] = [];
  let continued = false;
  for (const line of block.split('\n')) {
    if (continued) commands.at(-1)!.source += `\n${line}`;
    else if (/^#( |$)/.test(line)) {
      if (commands.length === 0) throw new Error(`an output line before any command:\n${block}`);
      commands.at(-1)!.promised.push(line.replace(/^# ?/, ''));
    } else if (line.trim()) commands.push({ source: line, promised: [] });
    continued = line.endsWith('\\');
  }
  return commands;
}

/**
 * The promised lines as one pattern, blind to whitespace (the CLI indents its JSON, a long line
 * is wrapped in the README): in order, anything between lines, `…` anything at all.
 */
function promisedPattern(promised: string[]): RegExp {
  const squash = (s: string) => s.replace(/\s+/g, '');
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(promised.map((line) => squash(line).split('…').map(escape).join('[^]*?')).join('[^]*?'));
}

/** The AWS CLI v2 (the seed's `--cli-binary-format` is a v2 option), or undefined. */
function awsCliV2(): string | undefined {
  for (const candidate of ['/usr/bin/aws', 'aws']) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.status === 0 && /aws-cli\/2\./.test(result.stdout + result.stderr)) return candidate;
  }
  return undefined;
}

const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8');
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-readme-home-'));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-readme-'));
const functionsDir = copyExampleFunctions(path.join(scratch, 'functions'), path.join(scratch, 'orders'));
const aws = awsCliV2();
let launcher: Launcher;
let port: number;

beforeAll(async () => {
  port = await freePort();
  launcher = startLauncher({
    REDIS_URL: testRedisUrl(),
    PORT: String(port),
    INVOQ_METRICS_PORT: String(await freePort()),
    INVOQ_QUEUE_PREFIX: uniquePrefix('readme'),
    INVOQ_FUNCTIONS_DIR: functionsDir,
    LOG_LEVEL: 'warn',
  });
  await launcher.waitForOutput(/\[invoq\] Ctrl-C stops everything/);
  // With REDIS_URL set, that Redis is the one it names (and uses).
  expect(launcher.output()).toContain(`[invoq] Redis: ${testRedisUrl()} (from REDIS_URL)`);
}, 30_000);

afterAll(async () => {
  await launcher?.close();
  for (const dir of [home, scratch]) fs.rmSync(dir, { recursive: true, force: true });
}, 30_000);

/** Runs the commands in one `bash -e` (so an `export` holds for the rest) from an empty HOME. */
async function runAsWritten(commands: Command[]): Promise<void> {
  // The CLI v2 first on PATH, as .ci/run does (a pyenv shim of CLI v1 may come first otherwise).
  const bin = path.join(scratch, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  if (aws && !fs.existsSync(path.join(bin, 'aws'))) fs.symlinkSync(aws, path.join(bin, 'aws'));
  const onPort = (source: string) => source.replaceAll('127.0.0.1:3000', `127.0.0.1:${port}`);
  const script = ['exec 2>&1', ...commands.flatMap((c, i) => [`printf '\\n@@start ${i}\\n'`, onPort(c.source), `printf '\\n@@end ${i}\\n'`])].join('\n');
  const child = spawn('bash', ['-e', '-c', script], {
    cwd: home,
    env: { PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, HOME: home },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));

  const results = commands.map((command, i) => {
    const started = output.indexOf(`\n@@start ${i}\n`);
    const ended = output.indexOf(`\n@@end ${i}\n`);
    const printed = started < 0 ? '' : output.slice(started + `\n@@start ${i}\n`.length, ended < 0 ? undefined : ended);
    const ran = started < 0 ? 'not run' : ended < 0 ? 'failed' : 'exit 0';
    const kept = ran === 'exit 0' && promisedPattern(command.promised).test(printed.replace(/\s+/g, ''));
    return { command: onPort(command.source), ran, promise: kept ? 'kept' : command.promised.join('\n'), printed: kept ? '' : printed };
  });
  expect({ code, results }).toEqual({ code: 0, results: results.map((r) => ({ ...r, ran: 'exit 0', promise: 'kept', printed: '' })) });
}

// Decided at collection, so a machine without the CLI reports a skip, not a pass; CI must have it.
const skipCli = !aws && process.env.CI !== 'true';
const quickStartTest = skipCli ? it.skip : it;
const cliNote = skipCli ? ' (no AWS CLI v2 on this machine: apt-get install awscli)' : '';

quickStartTest(
  `Quick start: every command works as written, with no AWS configuration${cliNote}`,
  async () => {
    if (!aws) throw new Error('CI=true but no AWS CLI v2 is installed (.ci/run installs Debian awscli)');
    const blocks = shellBlocks(readme, 'Quick start');
    // The first block is `npm start` itself: the service this file started.
    expect(blocks[0]!.trim()).toBe('npm ci && npm start');
    const commands = blocks.slice(1).flatMap(commandsOf);
    expect(commands.map((c) => c.source).join('\n')).toMatch(/^aws lambda invoke/m);
    expect(commands.every((c) => c.promised.length > 0 || c.source.startsWith('export '))).toBe(true);
    await runAsWritten(commands);
    // What the README exports is what `npm start` prints when auth is off.
    const exported = commands.find((c) => c.source.startsWith('export AWS_'))!.source;
    expect(launcher.output()).toContain(`[invoq]   ${exported}\n`);
  },
  60_000,
);

it('the order example: every command works as written', async () => {
  const commands = shellBlocks(readme, 'The order example').flatMap(commandsOf);
  expect(commands.length).toBeGreaterThanOrEqual(5);
  await runAsWritten(commands);
}, 60_000);
