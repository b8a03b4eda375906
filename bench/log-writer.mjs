// For `npm run bench:logs`: writes invocation-like lines through core's logger (argv[2]: JSON of
// LoggerOptions, or "silent" for the loop alone) to stdout at argv[3] lines a second for argv[4]
// seconds, then reports to its parent the CPU it used (every thread) and its writes to stdout.
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
// Counts the logger's writes to stdout: sonic-boom calls fs.write / fs.writeSync when it writes.
const fs = require('node:fs');
let stdoutWrites = 0;
for (const name of ['write', 'writeSync']) {
  const original = fs[name];
  fs[name] = function countingWrite(fd, ...rest) {
    if (fd === 1) stdoutWrites++;
    return original.call(this, fd, ...rest);
  };
}
const { createLogger, flushLogger } = require(path.join(root, 'packages/core/dist/index.js'));
const [setting, rate, seconds] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const logger = setting === 'silent' ? createLogger('silent', 'bench') : createLogger('info', 'invoq-api', JSON.parse(setting));

const cpu = process.cpuUsage();
const started = performance.now();
let lines = 0;
// Each millisecond, the lines due by then: a steady rate, as a service under even load logs.
await new Promise((resolve) => {
  const tick = setInterval(() => {
    const elapsed = performance.now() - started;
    const due = Math.floor((elapsed / 1000) * rate);
    for (; lines < due; lines++) {
      logger.info({ requestId: randomUUID(), functionName: 'echo', type: 'sync', outcome: 'success', durationMs: 0.41 }, 'invocation');
    }
    if (elapsed >= seconds * 1000) {
      clearInterval(tick);
      resolve();
    }
  }, 1);
});
await flushLogger(logger);
const used = process.cpuUsage(cpu);
process.send({ lines, cpuUs: used.user + used.system, writes: stdoutWrites });
