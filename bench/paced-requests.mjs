// Requests at a steady rate, for the benches: autocannon's `overallRate` releases each second's
// quota at once, which measures bursts, not a steady rate.
import { Agent, request } from 'node:http';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Sends `rate` requests a second, evenly spaced, over keep-alive sockets, for `seconds`.
 * Resolves with how many were sent and how many failed (an error, or a status outside 2xx).
 */
export async function sendPaced({ url, method = 'POST', body, headers }, rate, seconds) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const send = () =>
    new Promise((resolve) => {
      const req = request(url, { method, headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode >= 200 && res.statusCode < 300));
      });
      req.on('error', () => resolve(false));
      req.end(body);
    });
  const started = performance.now();
  const pending = [];
  let sent = 0;
  while (performance.now() - started < seconds * 1000) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) pending.push(send());
    await sleep(1);
  }
  const ok = await Promise.all(pending);
  agent.destroy();
  return { sent, errors: ok.filter((x) => !x).length };
}
