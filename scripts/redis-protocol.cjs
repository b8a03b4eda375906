// Just enough of the Redis protocol (RESP2) for local-redis.cjs to probe and form its servers
// without a client library: one command per connection, AUTH first when there is a password.
'use strict';
const net = require('node:net');

/** `command` as a RESP array of bulk strings. */
const encodeCommand = (argv) => `*${argv.length}\r\n${argv.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;

/**
 * One RESP reply parsed from `buf` at `at`: `{value, end}`, or undefined while incomplete. Errors
 * come back as `Error` values; RESP2 replies only.
 */
function parseReply(buf, at = 0) {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buf.slice(at + 1, eol);
  switch (buf[at]) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: new Error(line), end: eol + 2 };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: eol + 2 };
      const end = eol + 2 + length + 2;
      return buf.length < end ? undefined : { value: buf.slice(eol + 2, eol + 2 + length), end };
    }
    case '*': {
      const items = [];
      let end = eol + 2;
      for (let i = 0; i < Number(line); i++) {
        const item = parseReply(buf, end);
        if (!item) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: Number(line) < 0 ? null : items, end };
    }
    default:
      return { value: new Error(`unexpected RESP reply: ${buf.slice(at, eol)}`), end: buf.length };
  }
}

/**
 * Sends `argv` to host:port (after AUTH with `password`, when given) and resolves with its reply:
 * a string, a number, null, or an `Error` for a Redis error reply. Rejects on a refused
 * connection, a close, or no reply within `timeoutMs`.
 */
function redisCommand(port, argv, { host = '127.0.0.1', password, timeoutMs = 1000 } = {}) {
  return new Promise((resolve, reject) => {
    const commands = [...(password ? [['AUTH', password]] : []), argv];
    let buf = '';
    const finish = (fn, value) => {
      clearTimeout(timer);
      sock.destroy();
      fn(value);
    };
    const timer = setTimeout(() => finish(reject, new Error(`${host}:${port} did not answer ${argv[0]} within ${timeoutMs} ms`)), timeoutMs);
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    sock.once('connect', () => sock.write(commands.map(encodeCommand).join('')));
    sock.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      let at = 0;
      const replies = [];
      for (let parsed; replies.length < commands.length && (parsed = parseReply(buf, at)); at = parsed.end) replies.push(parsed.value);
      if (replies.length < commands.length) return;
      const authError = password && replies[0] instanceof Error ? replies[0] : undefined;
      finish(resolve, authError ?? replies[replies.length - 1]);
    });
    sock.once('error', (err) => finish(reject, err));
    sock.once('close', () => finish(reject, new Error(`${host}:${port} closed the connection`)));
  });
}

module.exports = { redisCommand };
