/**
 * AWS's own Node.js runtime interface client (aws-lambda-ric, an optional dependency: its native
 * addon builds only with autotools and cmake) as a custom runtime: a `provided.al2023` function
 * whose `bootstrap` starts it on invoq's Runtime API, with an unchanged Lambda Node.js handler and
 * the client copied into the function folder as a zip would carry it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { makeFunctionsDir, testConfig, uniquePrefix } from '../support/harness';
import { startStack, type Stack } from '../support/stack';

const mustRun = process.env.CI === 'true';

function ricRoot(): string | undefined {
  try {
    return path.dirname(require.resolve('aws-lambda-ric/package.json'));
  } catch {
    return undefined;
  }
}
const ric = ricRoot();
if (!ric && mustRun) throw new Error('aws-lambda-ric is not installed: CI needs it (npm ci builds it with autoconf, automake, libtool and cmake)');
const describeIfRic = ric ? describe : describe.skip;

// Lambda's sample handler, and one that throws; `calls` tells a warm environment from a fresh one.
const handler = `let calls = 0;
exports.handler = async (event, context) => {
  calls += 1;
  console.log('handling', JSON.stringify(event));
  if (event.fail) null.boom;
  return { got: event, requestId: context.awsRequestId, fn: context.functionName, calls };
};
`;
const bootstrap = `#!/bin/sh
exec node "$LAMBDA_TASK_ROOT/node_modules/aws-lambda-ric/bin/index.mjs" "$_HANDLER"
`;

let functionsDir: string;
let stack: Stack;
beforeAll(async () => {
  if (!ric) return;
  functionsDir = makeFunctionsDir({
    viaRic: { config: { runtime: 'provided.al2023', handler: 'index.handler', timeout: 10 }, files: { 'index.js': handler, bootstrap } },
  });
  const fnDir = path.join(functionsDir, 'viaRic');
  fs.chmodSync(path.join(fnDir, 'bootstrap'), 0o755);
  // What the client needs at run time: its entry point, its bundle and the built addon (not deps/).
  const target = path.join(fnDir, 'node_modules', 'aws-lambda-ric');
  fs.mkdirSync(target, { recursive: true });
  for (const part of ['package.json', 'bin', 'dist']) fs.cpSync(path.join(ric, part), path.join(target, part), { recursive: true });
  stack = await startStack(testConfig({ INVOQ_FUNCTIONS_DIR: functionsDir, INVOQ_QUEUE_PREFIX: uniquePrefix('ric') }));
}, 30_000);
afterAll(async () => {
  await stack?.close();
  if (functionsDir) fs.rmSync(functionsDir, { recursive: true, force: true });
});

const invoke = (body: unknown) =>
  fetch(`${stack.base}/2015-03-31/functions/viaRic/invocations`, {
    method: 'POST',
    headers: { 'X-Amz-Log-Type': 'Tail' },
    body: JSON.stringify(body),
  });
const tailOf = (res: Response) => Buffer.from(res.headers.get('x-amz-log-result') ?? '', 'base64').toString();

describeIfRic('aws-lambda-ric as a provided.al2023 bootstrap', () => {
  it('answers with the handler result and Lambda context, its console.log in Tail', async () => {
    const res = await invoke({ hello: 'ric' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    const requestId = res.headers.get('x-amzn-requestid');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await res.json()).toEqual({ got: { hello: 'ric' }, requestId, fn: 'viaRic', calls: 1 });
    const tail = tailOf(res);
    expect(tail).toContain(`${requestId}\tINFO\thandling {"hello":"ric"}`);
    expect(tail).toContain(`END RequestId: ${requestId}`);
  }, 20_000);

  it('answers a second call from the same, warm environment', async () => {
    const res = await invoke({ again: 1 });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ got: { again: 1 }, requestId: res.headers.get('x-amzn-requestid'), fn: 'viaRic', calls: 2 });
  }, 20_000);

  it('reports a thrown error as an Unhandled function error', async () => {
    const res = await invoke({ fail: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await res.json()).toMatchObject({ errorType: 'TypeError', errorMessage: "Cannot read properties of null (reading 'boom')" });
  }, 20_000);
});
