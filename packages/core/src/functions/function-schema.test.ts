import { nodeRuntimeName } from '../execution/lambda-environment';
import { functionSchema } from './function-schema';
import { LAMBDA_RUNTIMES } from './runtimes';

/** The one message loadFunctions shows: the first issue's field and message. */
function firstIssue(raw: unknown): string {
  const parsed = functionSchema.safeParse(raw);
  if (parsed.success) return 'ok';
  const issue = parsed.error.issues[0]!;
  return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
}

describe('functionSchema runtime and isolation', () => {
  it('reads the legacy "nodejs", and no runtime, as the host’s Node runtime', () => {
    expect(functionSchema.parse({ handler: 'index.handler' }).runtime).toBe(nodeRuntimeName());
    expect(functionSchema.parse({ handler: 'index.handler', runtime: 'nodejs' }).runtime).toBe(nodeRuntimeName());
  });

  it.each(LAMBDA_RUNTIMES.map((runtime) => [runtime]))('accepts %s', (runtime) => {
    const handler = runtime.startsWith('python') ? 'pkg.app.handler' : 'index.handler';
    expect(functionSchema.parse({ handler, runtime }).runtime).toBe(runtime);
  });

  it.each([
    [{ handler: 'index.handler', runtime: 'nodejs22.x', isolation: 'process' }, 'ok'],
    [{ handler: 'index.handler', runtime: 'nodejs', isolation: 'thread' }, 'ok'],
    [{ handler: 'app.handler', runtime: 'python3.12' }, 'ok'],
    [{ handler: 'pkg.app.handler', runtime: 'python3.9', isolation: 'process' }, 'ok'],
    [{ runtime: 'provided.al2023' }, 'ok'],
    [{ runtime: 'provided', handler: 'any string at all' }, 'ok'],
    [{ runtime: 'http', url: 'http://localhost:1/x' }, 'ok'],
    [{ handler: 'index.handler', runtime: 'java21' }, /^runtime: Invalid option: expected one of .*"nodejs".*"python3\.13".*"provided"/],
    [{ handler: 'index.handler', isolation: 'container' }, /^isolation: Invalid option/],
    [{ runtime: 'python3.12' }, 'handler: is required (e.g. "app.handler")'],
    [{ runtime: 'python3.12', handler: 'app' }, /^handler: must be "module\.function", e.g\. "app\.handler"/],
    [{ runtime: 'nodejs20.x', handler: 'index' }, 'handler: must be "file.export", e.g. "index.handler"'],
    [{ runtime: 'nodejs20.x' }, 'handler: is required (e.g. "index.handler")'],
    [{ runtime: 'python3.12', handler: 'app.handler', isolation: 'thread' }, /^isolation: cannot be "thread" with runtime "python3\.12": Python and custom runtimes always run as a process/],
    [{ runtime: 'provided.al2', isolation: 'thread' }, /^isolation: cannot be "thread" with runtime "provided\.al2"/],
    [{ runtime: 'http', url: 'http://localhost:1/x', isolation: 'process' }, /^isolation: does not apply to runtime "http"/],
  ])('%j: %s', (raw, expected) => {
    if (typeof expected === 'string') expect(firstIssue(raw)).toBe(expected);
    else expect(firstIssue(raw)).toMatch(expected);
  });
});
