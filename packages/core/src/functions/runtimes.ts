/**
 * Lambda's runtime identifiers invoq runs, and how each runs: Node.js in a worker thread (or,
 * with `isolation: "process"`, a process), Python and custom runtimes as a process speaking
 * Lambda's Runtime API, `http` as a POST to a URL.
 */
export const NODE_RUNTIMES = ['nodejs20.x', 'nodejs22.x', 'nodejs24.x'] as const;
export const PYTHON_RUNTIMES = ['python3.9', 'python3.10', 'python3.11', 'python3.12', 'python3.13'] as const;
export const PROVIDED_RUNTIMES = ['provided.al2023', 'provided.al2', 'provided'] as const;
/** Every runtime a deployed function may name (CreateFunction's list). */
export const LAMBDA_RUNTIMES = [...NODE_RUNTIMES, ...PYTHON_RUNTIMES, ...PROVIDED_RUNTIMES] as const;
export type LambdaRuntime = (typeof LAMBDA_RUNTIMES)[number];

export type RuntimeFamily = 'nodejs' | 'python' | 'provided' | 'http';
export type Isolation = 'thread' | 'process';

export function runtimeFamily(runtime: string): RuntimeFamily {
  if (runtime === 'http') return 'http';
  if (runtime.startsWith('python')) return 'python';
  if (runtime.startsWith('provided')) return 'provided';
  return 'nodejs';
}

/** Whether a function's environments are processes on the Runtime API rather than worker threads. */
export function runsInProcess(config: { runtime: string; isolation?: Isolation }): boolean {
  const family = runtimeFamily(config.runtime);
  return family === 'python' || family === 'provided' || (family === 'nodejs' && config.isolation === 'process');
}
