/**
 * Process execution environments end to end, over the Lambda HTTP API (sync and Event): Lambda's
 * custom-runtime tutorial (bash + curl) as a folder function and as a deployed zip
 * (provided.al2023); a compiled C runtime speaking the Runtime API on a raw socket; a Node function
 * with `isolation: "process"`, confined by the sandbox, beside the same code in a thread; and
 * Runtime API misuse (a wrong request id, a second answer) answered as Lambda does.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateFunctionCommand, LambdaClient, waitUntilFunctionActiveV2 } from '@aws-sdk/client-lambda';
import { resolveSandbox } from '../../packages/core/src/execution/sandbox';
import { REPO_ROOT, makeFunctionsDir, testConfig, uniquePrefix, waitFor } from '../support/harness';
import { startStack, type Stack } from '../support/stack';
import { makeZip } from '../support/zip-files';

const mustRun = process.env.CI === 'true';
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const curl = has('curl');
const gcc = has('gcc');
const bubblewrap = (() => {
  try {
    return resolveSandbox('bubblewrap').sandbox.kind === 'bubblewrap';
  } catch {
    return false;
  }
})();
/** With CI=true a missing tool fails its tests (they run and break); elsewhere they are skipped. */
const describeIf = (available: boolean) => (available || mustRun ? describe : describe.skip);

/** A variable of the service's own, which no function may see. */
const SERVICE_SECRET = 'service-secret-8d1f';
process.env.INVOQ_E2E_SERVICE_SECRET = SERVICE_SECRET;

// The tutorial's bootstrap (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-walkthrough.html),
// unchanged: its `#!/bin/sh` is bash on Amazon Linux, and in invoq's sandbox too. Only without
// the sandbox (a host without bwrap, outside CI) is it Debian's dash, which has neither `source`
// nor `pipefail`: there the test names bash.
const TUTORIAL_BOOTSTRAP = `#!/bin/${bubblewrap ? 'sh' : 'bash'}
set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl "http://\${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
`;
const TUTORIAL_FUNCTION = `function handler () {
  EVENT_DATA=$1

  RESPONSE="Echoing request: '$EVENT_DATA'"
  echo $RESPONSE
}
`;

/** A runtime in C: one keep-alive connection, GET next, POST a response wrapping the event, loop. */
const C_RUNTIME = `#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd = -1;
static struct sockaddr_in addr;
/* A buffered reader over the connection: bytes [start, used) of buf are unread. */
static char buf[1 << 20];
static size_t start = 0, used = 0;


static void connect_api(void) {
  if (fd >= 0) close(fd);
  start = used = 0;
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); exit(2); }
}

static void send_all(const char *data, size_t length) {
  while (length > 0) {
    ssize_t n = write(fd, data, length);
    if (n <= 0) { perror("write"); exit(2); }
    data += n; length -= (size_t)n;
  }
}

static int fill(void) {
  if (start > 0) { memmove(buf, buf + start, used - start); used -= start; start = 0; }
  if (used >= sizeof buf) return -1;
  ssize_t n = read(fd, buf + used, sizeof buf - used);
  if (n <= 0) return -1;
  used += (size_t)n;
  return 0;
}

/* The unread bytes up to and including delim, copied to out (NUL-terminated). */
static int read_until(const char *delim, char *out, size_t out_size) {
  for (;;) {
    buf[used < sizeof buf ? used : sizeof buf - 1] = 0;
    char *at = memmem(buf + start, used - start, delim, strlen(delim));
    if (at) {
      size_t n = (size_t)(at - (buf + start)) + strlen(delim);
      if (n >= out_size) return -1;
      memcpy(out, buf + start, n);
      out[n] = 0;
      start += n;
      return 0;
    }
    if (fill() != 0) return -1;
  }
}

static int read_exactly(char *out, size_t length) {
  while (used - start < length) if (fill() != 0) return -1;
  memcpy(out, buf + start, length);
  start += length;
  return 0;
}

static int has_header(const char *head, const char *name, const char *value) {
  size_t name_length = strlen(name);
  for (const char *line = strstr(head, "\\r\\n"); line; line = strstr(line + 2, "\\r\\n")) {
    if (strncasecmp(line + 2, name, name_length) == 0 && line[2 + name_length] == ':') {
      const char *v = line + 3 + name_length;
      while (*v == ' ') v++;
      return value == NULL || strncasecmp(v, value, strlen(value)) == 0;
    }
  }
  return 0;
}

/* Reads one response: its headers into head, its body (malloc'd, Content-Length or chunked) into *body. */
static int read_response(char *head, size_t head_size, char **body, size_t *body_length) {
  if (read_until("\\r\\n\\r\\n", head, head_size) != 0) return -1;
  size_t length = 0;
  *body = malloc(1);
  if (has_header(head, "Transfer-Encoding", "chunked")) {
    char line[64];
    for (;;) {
      if (read_until("\\r\\n", line, sizeof line) != 0) return -1;
      size_t chunk = strtoul(line, NULL, 16);
      if (chunk == 0) { if (read_until("\\r\\n", line, sizeof line) != 0) return -1; break; }
      *body = realloc(*body, length + chunk + 1);
      if (read_exactly(*body + length, chunk) != 0 || read_until("\\r\\n", line, sizeof line) != 0) return -1;
      length += chunk;
    }
  } else {
    for (const char *line = strstr(head, "\\r\\n"); line; line = strstr(line + 2, "\\r\\n")) {
      if (strncasecmp(line + 2, "Content-Length:", 15) == 0) length = strtoul(line + 17, NULL, 10);
    }
    *body = realloc(*body, length + 1);
    if (read_exactly(*body, length) != 0) return -1;
  }
  (*body)[length] = 0;
  *body_length = length;
  return 0;
}

static void header_value(const char *head, const char *name, char *out, size_t out_size) {
  out[0] = 0;
  size_t name_length = strlen(name);
  for (const char *line = strstr(head, "\\r\\n"); line; line = strstr(line + 2, "\\r\\n")) {
    if (strncasecmp(line + 2, name, name_length) == 0 && line[2 + name_length] == ':') {
      const char *value = line + 3 + name_length;
      while (*value == ' ') value++;
      size_t n = strcspn(value, "\\r");
      if (n >= out_size) n = out_size - 1;
      memcpy(out, value, n);
      out[n] = 0;
      return;
    }
  }
}

int main(void) {
  const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
  const char *colon = api ? strrchr(api, ':') : NULL;
  if (!colon) { fprintf(stderr, "no AWS_LAMBDA_RUNTIME_API\\n"); return 2; }
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(colon + 1));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  connect_api();
  static char head[65536];
  for (int count = 1;; count++) {
    const char *next = "GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: runtime\\r\\n\\r\\n";
    char *event;
    size_t event_length;
    send_all(next, strlen(next));
    if (read_response(head, sizeof head, &event, &event_length) != 0) { connect_api(); count--; continue; }
    char id[256];
    header_value(head, "Lambda-Runtime-Aws-Request-Id", id, sizeof id);
    printf("c runtime: invocation %d, request %s\\n", count, id);
    fflush(stdout);
    size_t body_size = event_length + 128;
    char *body = malloc(body_size);
    int body_length = snprintf(body, body_size, "{\\"runtime\\":\\"c\\",\\"count\\":%d,\\"event\\":%s}", count, event);
    char request[512];
    int request_length = snprintf(request, sizeof request,
      "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: runtime\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n",
      id, body_length);
    send_all(request, (size_t)request_length);
    send_all(body, (size_t)body_length);
    char *answer;
    size_t answer_length;
    if (read_response(head, sizeof head, &answer, &answer_length) != 0) connect_api();
    else free(answer);
    free(body);
    free(event);
  }
}
`;

const API = 'http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime';
/**
 * A bash runtime that, for the event "misuse", answers a wrong request id first, then its own
 * (with the code the wrong one got), then its own again, keeping that code in its /tmp; the
 * event "report" answers what the second answer got.
 */
const MISUSE_BOOTSTRAP = `#!/bin/bash
set -uo pipefail
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "${API}/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  if [ "$EVENT" = '"misuse"' ]; then
    WRONG=$(curl -sS -o /tmp/wrong.json -w '%{http_code}' "${API}/invocation/not-$REQUEST_ID/response" -d '"stolen"')
    echo "wrong id answered $WRONG $(cat /tmp/wrong.json)"
    curl -sS -o /dev/null "${API}/invocation/$REQUEST_ID/response" -d "{\\"wrongId\\":$WRONG,\\"wrongIdBody\\":$(cat /tmp/wrong.json)}"
    AGAIN=$(curl -sS -o /tmp/again.json -w '%{http_code}' "${API}/invocation/$REQUEST_ID/response" -d '"twice"')
    echo "second answer answered $AGAIN $(cat /tmp/again.json)"
    echo "{\\"secondAnswer\\":$AGAIN,\\"secondAnswerBody\\":$(cat /tmp/again.json)}" > /tmp/report.json
  elif [ "$EVENT" = '"report"' ]; then
    curl -sS -o /dev/null "${API}/invocation/$REQUEST_ID/response" -d "$(cat /tmp/report.json)"
  else
    curl -sS -o /dev/null "${API}/invocation/$REQUEST_ID/response" -d "{\\"event\\":$EVENT}"
  fi
done
`;

/** What a Node function sees of itself and of the host. */
const PROBE = `const fs = require('node:fs');
const readable = (file) => { try { fs.readFileSync(file); return 'readable'; } catch (e) { return e.code; } };
exports.handler = async (event) => ({
  environ: fs.readFileSync('/proc/self/environ', 'utf8').split('\\0').filter(Boolean),
  env: process.env,
  otherFunction: readable(event.otherFunction),
  serviceFile: readable(event.serviceFile),
  cwd: process.cwd(),
  pid: process.pid,
  ppid: process.ppid,
  uid: process.getuid(),
});
`;

const functionsDir = makeFunctionsDir({
  tutorial: {
    config: { runtime: 'provided.al2023', handler: 'function.handler' },
    files: { 'function.sh': TUTORIAL_FUNCTION },
  },
  cRuntime: { config: { runtime: 'provided.al2023', handler: 'unused' }, files: { 'main.c': C_RUNTIME } },
  misuse: { config: { runtime: 'provided.al2023', handler: 'unused', circuitBreaker: false }, files: {} },
  inProcess: { config: { runtime: 'nodejs20.x', handler: 'index.handler', isolation: 'process' }, files: { 'index.js': PROBE } },
  inThread: { config: { runtime: 'nodejs20.x', handler: 'index.handler' }, files: { 'index.js': PROBE } },
});
fs.writeFileSync(path.join(functionsDir, 'tutorial', 'bootstrap'), TUTORIAL_BOOTSTRAP, { mode: 0o755 });
fs.writeFileSync(path.join(functionsDir, 'misuse', 'bootstrap'), MISUSE_BOOTSTRAP, { mode: 0o755 });
if (gcc) {
  const built = spawnSync('gcc', ['-O2', '-o', 'bootstrap', 'main.c'], { cwd: path.join(functionsDir, 'cRuntime'), encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`gcc failed: ${built.stderr}`);
}

const admin = { accessKeyId: 'AKIDCUSTOM', secretAccessKey: 'custom-secret' };
/** With credentials configured every call needs a key: the HTTP calls send this one. */
const API_KEY = 'custom-runtimes-key';
let stack: Stack;
let lambda: LambdaClient;
beforeAll(async () => {
  const config = testConfig({
    INVOQ_FUNCTIONS_DIR: functionsDir,
    INVOQ_QUEUE_PREFIX: uniquePrefix('custom'),
    INVOQ_AWS_CREDENTIALS: `${admin.accessKeyId}:${admin.secretAccessKey}:admin`,
    INVOQ_API_KEYS: API_KEY,
    INVOQ_CODE_CACHE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-custom-code-')),
  });
  stack = await startStack(config);
  lambda = new LambdaClient({ endpoint: stack.base, region: 'us-east-1', credentials: admin, maxAttempts: 1 });
}, 30_000);
afterAll(async () => {
  lambda?.destroy();
  await stack?.close();
  fs.rmSync(functionsDir, { recursive: true, force: true });
});

const invoke = (fn: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${stack.base}/2015-03-31/functions/${fn}/invocations`, { method: 'POST', headers: { 'x-api-key': API_KEY, ...headers }, body: JSON.stringify(body) });
const tailOf = (res: Response) => Buffer.from(res.headers.get('x-amz-log-result') ?? '', 'base64').toString();
const statusOf = async (id: string) =>
  (await (await fetch(`${stack.base}/invocations/${id}?wait=10`, { headers: { 'x-api-key': API_KEY } })).json()) as Record<string, unknown>;
/** An Event invocation: 202, then the status API (long-polled until it finished) says it succeeded. */
const eventSucceeds = async (fn: string, body: unknown) => {
  const res = await invoke(fn, body, { 'X-Amz-Invocation-Type': 'Event' });
  expect(res.status).toBe(202);
  const done = await statusOf(res.headers.get('x-amzn-requestid')!);
  expect(done).toMatchObject({ functionName: fn, status: 'succeeded' });
  return done;
};

describeIf(curl)("Lambda's custom-runtime tutorial, unchanged (bash + curl)", () => {
  const expectEcho = async (fn: string) => {
    const res = await invoke(fn, { x: 1 }, { 'X-Amz-Log-Type': 'Tail' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(await res.text()).toBe(`Echoing request: '{"x":1}'`);
    return tailOf(res);
  };
  let deployed: Promise<void> | undefined;
  /** The tutorial as a zip (bootstrap mode 0755), created through CreateFunction; once. */
  const deployTutorialZip = () =>
    (deployed ??= (async () => {
      const zip = makeZip([
        { name: 'bootstrap', content: TUTORIAL_BOOTSTRAP, mode: 0o755 },
        { name: 'function.sh', content: TUTORIAL_FUNCTION, mode: 0o644 },
      ]);
      await lambda.send(
        new CreateFunctionCommand({
          FunctionName: 'tutorialZip',
          Runtime: 'provided.al2023',
          Handler: 'function.handler',
          Role: 'arn:aws:iam::000000000000:role/lambda-role',
          Code: { ZipFile: zip },
        }),
      );
      const waited = await waitUntilFunctionActiveV2({ client: lambda, maxWaitTime: 20, minDelay: 1, maxDelay: 1 }, { FunctionName: 'tutorialZip' });
      expect(waited.state).toBe('SUCCESS');
      // The worker follows the create within moments.
      await waitFor(async () => (await invoke('tutorialZip', { x: 0 })).status === 200, 10_000, 'the deployed function to answer');
    })());

  it('answers as a folder function, sync, twice from one warm process', async () => {
    const first = await expectEcho('tutorial');
    // The handler's echo is its answer (the loop captures it); the log has the invocation's lines.
    expect(first).toMatch(
      /^START RequestId: ([0-9a-f-]{36}) Version: \$LATEST\n[\s\S]*END RequestId: \1\nREPORT RequestId: \1\tDuration: [\d.]+ ms\t.*Init Duration: [\d.]+ ms/,
    );
    const warm = await expectEcho('tutorial');
    expect(warm).toMatch(/REPORT RequestId: /);
    expect(warm).not.toMatch(/Init Duration/);
  });

  it('answers as a zip deployed with CreateFunction (runtime provided.al2023, bootstrap mode 0755)', async () => {
    await deployTutorialZip();
    expect(await expectEcho('tutorialZip')).toMatch(/REPORT RequestId: /);
  });

  // A custom runtime may answer any text: the status API keeps a result that is not JSON as text.
  it('runs events, folder and zip: 202, then the status API says succeeded with the echo', async () => {
    await deployTutorialZip();
    for (const fn of ['tutorial', 'tutorialZip']) {
      const done = await eventSucceeds(fn, { x: 2 });
      expect(done.result).toBe(`Echoing request: '{"x":2}'`);
    }
  });
});

describeIf(gcc)('a compiled custom runtime (C, raw sockets)', () => {
  it('answers sync, twice from one warm process, with its log line in the Tail', async () => {
    const first = await invoke('cRuntime', { n: 1 }, { 'X-Amz-Log-Type': 'Tail' });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ runtime: 'c', count: 1, event: { n: 1 } });
    expect(tailOf(first)).toContain(`c runtime: invocation 1, request ${first.headers.get('x-amzn-requestid')}\n`);
    const second = await invoke('cRuntime', { n: 2 });
    expect(await second.json()).toEqual({ runtime: 'c', count: 2, event: { n: 2 } });
  });

  it('runs an event: 202, then the status API says succeeded with its answer', async () => {
    const done = await eventSucceeds('cRuntime', { n: 3 });
    expect(done.result).toMatchObject({ runtime: 'c', event: { n: 3 } });
  });
});

describeIf(bubblewrap)('a Node function with isolation "process", confined by bubblewrap', () => {
  type Probe = {
    environ: string[];
    env: Record<string, string>;
    otherFunction: string;
    serviceFile: string;
    cwd: string;
    pid: number;
    ppid: number;
    uid: number;
  };
  const probeEvent = { otherFunction: path.join(functionsDir, 'inThread', 'index.js'), serviceFile: path.join(REPO_ROOT, 'package.json') };
  const probe = async (fn: string) => {
    const res = await invoke(fn, probeEvent);
    expect(res.status).toBe(200);
    return (await res.json()) as Probe;
  };
  const names = (environ: string[]) => environ.map((entry) => entry.slice(0, entry.indexOf('=')));

  it('sees none of the service: its variables, other functions’ files, its files, its processes', async () => {
    const own = await probe('inProcess');
    // Its whole environment is what Lambda's contract lists.
    const allowed = /^(AWS_|LAMBDA_|_HANDLER$|_X_AMZN_TRACE_ID$|TZ$|PATH$|LANG$|TMPDIR$|HOME$|PWD$|LD_LIBRARY_PATH$|NODE_PATH$|NODE_OPTIONS$)/;
    expect(names(own.environ).filter((name) => !allowed.test(name))).toEqual([]);
    expect(own.environ.join('\n')).not.toContain(SERVICE_SECRET);
    expect(own.env.INVOQ_E2E_SERVICE_SECRET).toBeUndefined();
    expect(own.env.REDIS_URL).toBeUndefined();
    expect(own.environ.some((entry) => entry.startsWith('REDIS_URL=') || entry.startsWith('TEST_REDIS_URL='))).toBe(false);
    expect(own.env.AWS_LAMBDA_FUNCTION_NAME).toBe('inProcess');
    expect([own.otherFunction, own.serviceFile]).toEqual(['ENOENT', 'ENOENT']);
    expect(own.cwd).toBe('/var/task');
    expect(own.uid).toBe(993);
    // In a pid namespace of its own: not a child the service's pids name.
    expect(own.pid).not.toBe(process.pid);
    expect(own.ppid).not.toBe(process.pid);
    expect(own.ppid).toBeLessThan(10);
    const again = await eventSucceeds('inProcess', probeEvent);
    expect((again.result as Probe).uid).toBe(993);
  });

  it('while the same code in a thread has a clean process.env but the service’s /proc/self/environ', async () => {
    const thread = await probe('inThread');
    expect(thread.env.INVOQ_E2E_SERVICE_SECRET).toBeUndefined();
    // A thread shares the service's process: its initial environment, its files, its pid.
    expect(thread.environ).toEqual(fs.readFileSync('/proc/self/environ', 'utf8').split('\0').filter(Boolean));
    expect(thread.pid).toBe(process.pid);
    expect(thread.serviceFile).toBe('readable');
    expect(thread.otherFunction).toBe('readable');
    const own = await probe('inProcess');
    const serviceOnly = names(thread.environ).filter((name) => !names(own.environ).includes(name));
    expect(serviceOnly.length).toBeGreaterThan(0);
    if (mustRun) expect(names(thread.environ)).toContain('CI');
    expect(names(own.environ)).not.toContain('CI');
  });
});

describeIf(curl)('Runtime API misuse, seen through the HTTP API', () => {
  it('refuses an answer for a wrong request id (400) and a second answer (403), and keeps serving', async () => {
    const res = await invoke('misuse', 'misuse', { 'X-Amz-Log-Type': 'Tail' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    const answer = (await res.json()) as { wrongId: number; wrongIdBody: Record<string, unknown> };
    expect(answer).toMatchObject({ wrongId: 400, wrongIdBody: { errorType: 'InvalidRequestID' } });
    expect(tailOf(res)).toMatch(/wrong id answered 400 .*InvalidRequestID/);
    const report = await invoke('misuse', 'report');
    expect(await report.json()).toMatchObject({ secondAnswer: 403, secondAnswerBody: { errorType: 'InvalidStateTransition' } });
    expect(await (await invoke('misuse', { fine: true })).json()).toEqual({ event: { fine: true } });
  });
});
