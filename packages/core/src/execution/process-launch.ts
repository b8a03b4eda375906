import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedFunction } from '../functions/resolved-function';
import { runtimeFamily } from '../functions/runtimes';
import { lambdaEnvironment } from './lambda-environment';
import { SANDBOX_RUNTIME_DIR, SANDBOX_TASK_ROOT, bubblewrapArgs, type Sandbox } from './sandbox';

/** packages/core, from src/execution (ts-jest) or dist/execution alike. */
const CORE_ROOT = path.resolve(__dirname, '../..');
/** invoq's runtime clients on the host: the Python one as shipped, the Node one as compiled. */
const PYTHON_CLIENT_DIR = path.join(CORE_ROOT, 'runtimes', 'python');
const NODE_CLIENT_ROOT = path.join(CORE_ROOT, 'dist');

/** A process environment's command line, environment and working folder, ready for spawn. */
export interface ProcessLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** A private TMPDIR made for it outside a sandbox, to remove when it ends. */
  tmpDir: string | undefined;
}

/** Why an environment cannot start: the caller's run fails with this, as Lambda's would. */
export class LaunchError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

interface Interpreter {
  executable: string;
  /** Its install prefix, mounted read-only in a sandbox when outside /usr. */
  prefix: string;
}

let python: Interpreter | LaunchError | undefined;

/**
 * The host's `python3`, asked once per process (it blocks for the few ms python3 takes to start;
 * a failure is remembered too): pyenv and friends put a shim on PATH, the sandbox needs the real one.
 */
function hostPython(): Interpreter {
  python ??= findPython();
  if (python instanceof LaunchError) throw python;
  return python;
}

function findPython(): Interpreter | LaunchError {
  try {
    const [executable, prefix] = execFileSync('python3', ['-c', 'import sys; print(sys.executable); print(sys.base_prefix)'], {
      encoding: 'utf8',
      timeout: 10_000,
    })
      .trim()
      .split('\n');
    return { executable: executable!, prefix: prefix! };
  } catch (e) {
    return new LaunchError('Runtime.InvalidEntrypoint', `python3 cannot be run on this host (${(e as Error).message.split('\n')[0]})`);
  }
}

function hostNode(): Interpreter {
  const executable = fs.realpathSync(process.execPath);
  return { executable, prefix: path.dirname(path.dirname(executable)) };
}

/** The runtime's command as the process sees paths (in a sandbox, /var/task and /var/runtime). */
function runtimeCommand(
  fn: ResolvedFunction,
  taskRoot: string,
  runtimeDir: string | undefined,
): { command: string; args: string[]; interpreter?: Interpreter } {
  switch (runtimeFamily(fn.config.runtime)) {
    case 'python': {
      const interpreter = hostPython();
      const client = path.join(runtimeDir ? path.join(runtimeDir, 'python') : PYTHON_CLIENT_DIR, 'invoq_runtime.py');
      return { command: interpreter.executable, args: ['-u', client], interpreter };
    }
    case 'nodejs': {
      const interpreter = hostNode();
      const client = path.join(runtimeDir ? path.join(runtimeDir, 'node') : NODE_CLIENT_ROOT, 'execution', 'node-process-runtime.js');
      return { command: interpreter.executable, args: [`--max-old-space-size=${fn.config.memorySize}`, client], interpreter };
    }
    default:
      return { command: path.join(taskRoot, 'bootstrap'), args: [] };
  }
}

/** A custom runtime's zip must hold an executable `bootstrap`, as Lambda requires. */
function checkBootstrap(fn: ResolvedFunction): void {
  if (runtimeFamily(fn.config.runtime) !== 'provided') return;
  try {
    fs.accessSync(path.join(fn.directory, 'bootstrap'), fs.constants.X_OK);
  } catch {
    throw new LaunchError('Runtime.InvalidEntrypoint', `Couldn't find valid bootstrap(s): [${SANDBOX_TASK_ROOT}/bootstrap /opt/bootstrap]`);
  }
}

function underUsr(dir: string): boolean {
  return dir === '/usr' || dir.startsWith('/usr/');
}

/**
 * How to start one process environment of `fn`, with Lambda's variables (and `runtimeApi` as
 * `AWS_LAMBDA_RUNTIME_API`), the function's own, and nothing of the service's.
 */
export function planLaunch(fn: ResolvedFunction, options: { sandbox: Sandbox; runtimeApi: string; region: string; logStreamName: string }): ProcessLaunch {
  checkBootstrap(fn);
  const { sandbox } = options;
  const sandboxed = sandbox.kind === 'bubblewrap';
  const taskRoot = sandboxed ? SANDBOX_TASK_ROOT : fn.directory;
  const runtime = runtimeCommand(fn, taskRoot, sandboxed ? SANDBOX_RUNTIME_DIR : undefined);
  const interpreterBin = runtime.interpreter ? path.dirname(runtime.interpreter.executable) : undefined;
  const tmpDir = sandboxed ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-env-'));
  const searchPath = [interpreterBin, '/usr/local/bin', '/usr/bin', '/bin'].filter((dir) => dir !== undefined);
  const env = lambdaEnvironment(fn, {
    region: options.region,
    logStreamName: options.logStreamName,
    runtimeDir: sandboxed ? SANDBOX_RUNTIME_DIR : CORE_ROOT,
    serviceEnv: {},
    taskRoot,
    overrides: {
      AWS_LAMBDA_RUNTIME_API: options.runtimeApi,
      PATH: [...new Set(searchPath)].join(':'),
      LANG: 'C.UTF-8',
      LD_LIBRARY_PATH: `${taskRoot}/lib`,
      TMPDIR: tmpDir ?? '/tmp',
    },
  });
  if (sandbox.kind !== 'bubblewrap') return { command: runtime.command, args: runtime.args, env, cwd: fn.directory, tmpDir };
  const prefix = runtime.interpreter?.prefix;
  const args = bubblewrapArgs({
    codeDir: fn.directory,
    runtimeMounts: [
      [PYTHON_CLIENT_DIR, `${SANDBOX_RUNTIME_DIR}/python`],
      [NODE_CLIENT_ROOT, `${SANDBOX_RUNTIME_DIR}/node`],
    ].filter(([host]) => fs.existsSync(host!)) as Array<[string, string]>,
    hostDirs: prefix && !underUsr(prefix) ? [prefix] : [],
  });
  return { command: sandbox.bwrap, args: [...args, '--', runtime.command, ...runtime.args], env, cwd: '/', tmpDir };
}
