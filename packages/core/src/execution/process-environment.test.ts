import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ResolvedFunction } from '../functions/resolved-function';
import { Executor } from './executor';
import { resolveSandbox, type Sandbox } from './sandbox';

/*
 * Process environments through the executor, with custom runtimes written in bash against the
 * Runtime API as Lambda's tutorial does (curl), in each sandbox this host can give.
 */

const curl = fs.existsSync('/usr/bin/curl');
const mustRun = process.env.CI === 'true';
const sandboxes: Array<[string, Sandbox]> = [['none', { kind: 'none' }]];
const bubblewrap = (() => {
  try {
    return resolveSandbox(mustRun ? 'bubblewrap' : 'auto').sandbox;
  } catch (e) {
    if (mustRun) throw e;
    return { kind: 'none' } as const;
  }
})();
if (bubblewrap.kind === 'bubblewrap') sandboxes.push(['bubblewrap', bubblewrap]);

const API = 'http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime';
/** The tutorial's loop, with `$1` the handler body (a shell snippet that sets RESPONSE from EVENT). */
const bootstrapWith = (body: string) => `#!/bin/bash
set -euo pipefail
ME="$RANDOM$RANDOM"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "${API}/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  ${body}
  curl -sS "${API}/invocation/$REQUEST_ID/response" -d "$RESPONSE" >/dev/null
done
`;

let root: string;
const made: Executor[] = [];

function customRuntime(name: string, bootstrap: string, overrides: Partial<ResolvedFunction['config']> = {}): ResolvedFunction {
  const directory = path.join(root, name);
  fs.mkdirSync(directory, { recursive: true });
  if (bootstrap) fs.writeFileSync(path.join(directory, 'bootstrap'), bootstrap, { mode: 0o755 });
  fs.writeFileSync(path.join(directory, 'data.txt'), 'from the zip\n');
  const timeout = overrides.timeout ?? 3;
  return {
    name,
    version: '$LATEST',
    source: 'folder',
    executionKey: name,
    arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    directory,
    config: {
      runtime: 'provided.al2023',
      handler: 'function.handler',
      memorySize: 128,
      environment: { GREETING: 'hi' },
      ...overrides,
      timeout,
    } as ResolvedFunction['config'],
    handlerFile: undefined,
    handlerExport: undefined,
    timeoutMs: timeout * 1000,
  };
}

function executor(sandbox: Sandbox): Executor {
  const made_ = new Executor({ sandbox, scaleUpAfterMs: 5 });
  made.push(made_);
  return made_;
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-process-env-'));
});

afterAll(async () => {
  await Promise.all(made.map((e) => e.close()));
  fs.rmSync(root, { recursive: true, force: true, maxRetries: 5 });
});

const describeIfCurl = curl || mustRun ? describe : describe.skip;

describeIfCurl.each(sandboxes)('a custom runtime in a process (sandbox %s)', (label, sandbox) => {
  it('answers with what the runtime posted, logs its output per run, and stays warm', async () => {
    const fn = customRuntime(`echo-${label}`, bootstrapWith('echo "got $EVENT"; RESPONSE="Echoing request: \'$EVENT\' $GREETING $(cat data.txt)"'));
    const run = executor(sandbox);
    const first = await run.invoke(fn, { requestId: 'r-1', payload: '{"n":1}' });
    expect(first.functionError).toBeUndefined();
    expect(first.body).toBe(`Echoing request: '{"n":1}' hi from the zip`);
    expect(first.logs).toEqual(['got {"n":1}']);
    expect(first.initDurationMs).toBeGreaterThan(0);
    const second = await run.invoke(fn, { requestId: 'r-2', payload: '{"n":2}' });
    expect(second.logs).toEqual(['got {"n":2}']);
    expect(second.initDurationMs).toBeUndefined();
    expect(run.environmentCount).toBe(1);
  });

  it('sees Lambda’s variables and the function’s, and none of the service’s', async () => {
    process.env.INVOQ_TEST_SECRET = 'service-only';
    const fn = customRuntime(`env-${label}`, bootstrapWith("RESPONSE=\"$(env | sort | tr '\\n' ' ')\""));
    const out = await executor(sandbox).invoke(fn, { requestId: 'r-env', payload: '{}' });
    delete process.env.INVOQ_TEST_SECRET;
    expect(out.body).toContain('GREETING=hi');
    expect(out.body).toContain('AWS_LAMBDA_FUNCTION_NAME=env-');
    expect(out.body).toContain('AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023');
    expect(out.body).toMatch(/AWS_LAMBDA_RUNTIME_API=127\.0\.0\.1:\d+/);
    expect(out.body).toContain('_HANDLER=function.handler');
    expect(out.body).not.toContain('INVOQ_TEST_SECRET');
    expect(out.body).not.toContain('REDIS');
  });

  it('kills a run past its timeout (Sandbox.Timedout) and starts the next call afresh', async () => {
    const fn = customRuntime(`loop-${label}`, bootstrapWith('if [ "$EVENT" = \'"spin"\' ]; then while true; do :; done; fi; RESPONSE="$ME"'), { timeout: 1 });
    const run = executor(sandbox);
    const before = await run.invoke(fn, { requestId: 'r-a', payload: '"ok"' });
    const spun = await run.invoke(fn, { requestId: 'r-spin', payload: '"spin"' });
    expect(spun.functionError).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: 'RequestId: r-spin Error: Task timed out after 1.00 seconds' });
    const after = await run.invoke(fn, { requestId: 'r-b', payload: '"ok"' });
    expect(after.functionError).toBeUndefined();
    expect(after.body).not.toBe(before.body); // a new shell
    expect(after.initDurationMs).toBeGreaterThan(0);
  });

  it('reports a runtime that exits mid-call as Runtime.ExitError, with its last lines', async () => {
    const fn = customRuntime(`exit-${label}`, bootstrapWith('echo "about to go" >&2; exit 3'));
    const out = await executor(sandbox).invoke(fn, { requestId: 'r-exit', payload: '{}' });
    expect(out.functionError).toMatchObject({
      errorType: 'Runtime.ExitError',
      errorMessage: 'RequestId: r-exit Error: Runtime exited with error: exit status 3',
    });
    expect(out.logs).toContain('about to go');
  });

  it('answers a failed init with the error the runtime posted', async () => {
    const bootstrap = `#!/bin/bash
echo "cannot load the handler"
curl -sS -X POST "${API}/init/error" -H 'Lambda-Runtime-Function-Error-Type: Runtime.NoSuchHandler' -d '{"errorType":"Runtime.NoSuchHandler","errorMessage":"no handler here"}' >/dev/null
exit 1
`;
    const fn = customRuntime(`init-${label}`, bootstrap);
    const out = await executor(sandbox).invoke(fn, { requestId: 'r-init', payload: '{}' });
    expect(out.functionError).toMatchObject({ errorType: 'Runtime.NoSuchHandler', errorMessage: 'no handler here' });
    expect(JSON.parse(out.body)).toEqual({ errorType: 'Runtime.NoSuchHandler', errorMessage: 'no handler here' });
    expect(out.logs).toContain('cannot load the handler');
  });

  it('refuses a zip without an executable bootstrap as Lambda does (Runtime.InvalidEntrypoint)', async () => {
    const fn = customRuntime(`none-${label}`, '');
    const out = await executor(sandbox).invoke(fn, { requestId: 'r-none', payload: '{}' });
    expect(out.functionError?.errorType).toBe('Runtime.InvalidEntrypoint');
    expect(out.functionError?.errorMessage).toContain("Couldn't find valid bootstrap(s)");
  });

  it('overlaps waiting calls in environments of their own', async () => {
    const fn = customRuntime(`sleep-${label}`, bootstrapWith('sleep 0.4; RESPONSE="$ME"'));
    const run = executor(sandbox);
    const outs = await Promise.all([1, 2, 3, 4].map((n) => run.invoke(fn, { requestId: `r-s${n}`, payload: '{}' })));
    expect(outs.every((out) => out.functionError === undefined)).toBe(true);
    // Four shells, or at least more than one: a waiting run does not hold the others back.
    expect(new Set(outs.map((out) => out.body)).size).toBeGreaterThan(1);
  });
});

describeIfCurl('a process without a sandbox', () => {
  it('gets a private TMPDIR, removed when the environment ends', async () => {
    const fn = customRuntime('tmpdir', bootstrapWith('touch "$TMPDIR/left"; RESPONSE="$TMPDIR"'));
    const run = new Executor({ sandbox: { kind: 'none' } });
    const out = await run.invoke(fn, { requestId: 'r-tmp', payload: '{}' });
    expect(out.body.startsWith(path.join(os.tmpdir(), 'invoq-env-'))).toBe(true);
    expect(fs.existsSync(path.join(out.body, 'left'))).toBe(true);
    await run.close();
    expect(fs.existsSync(out.body)).toBe(false);
  });
});

const describeIfSandbox = bubblewrap.kind === 'bubblewrap' && curl ? describe : describe.skip;

describeIfSandbox('the bubblewrap sandbox', () => {
  it('shows the code at /var/task, its own /tmp and /proc, and none of the host’s files', async () => {
    // A file of the service's own, outside /tmp (which the sandbox replaces anyway).
    const serviceFile = path.resolve(__dirname, '../../package.json');
    const probe = `RESPONSE="cwd=$(pwd) uid=$(id -u) procs=$(ls /proc | grep -c '^[0-9]') service=$(cat ${serviceFile} 2>&1 | tail -c 30) environ=$(cat /proc/${process.pid}/environ 2>&1 | tail -c 30) tmp=$(touch /tmp/x && ls /tmp | tr '\\n' ' ')"`;
    const fn = customRuntime('confined', bootstrapWith(probe));
    const out = await executor(bubblewrap).invoke(fn, { requestId: 'r-c', payload: '{}' });
    expect(out.body).toContain('cwd=/var/task');
    expect(out.body).toContain('uid=993');
    expect(out.body).toContain('service=on: No such file or directory'); // the service's folder is not there (the tail of cat's message)
    expect(out.body).toContain('environ=on: No such file or directory'); // nor its process
    expect(out.body).toMatch(/procs=[1-9]\b/); // its own processes only
    expect(out.body).not.toContain('REDIS');
    expect(out.body).toMatch(/tmp=(tmp\.\w+ )*x $/); // only what this environment wrote there
  });
});
