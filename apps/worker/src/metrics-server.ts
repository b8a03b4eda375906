import http from 'node:http';
import type { Registry } from 'prom-client';

/**
 * The worker's `/metrics`, `/healthz` and `/readyz`, on INVOQ_METRICS_PORT. `/readyz` is 503
 * when Redis does not answer, or while `notReadyReason` gives a reason (Redis out of memory).
 */
export function createMetricsServer(
  registry: Registry,
  pingRedis: () => Promise<void>,
  notReadyReason: () => string | undefined = () => undefined,
): http.Server {
  return http.createServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'Content-Type': type }).end(body);
    };
    const url = req.url?.split('?')[0];
    if (req.method !== 'GET') return send(405, 'application/json', '{"message":"Method Not Allowed"}');
    if (url === '/healthz') return send(200, 'application/json', '{"status":"ok"}');
    if (url === '/readyz') {
      pingRedis().then(
        () => {
          const reason = notReadyReason();
          if (reason) send(503, 'application/json', JSON.stringify({ status: 'unavailable', reason }));
          else send(200, 'application/json', '{"status":"ready"}');
        },
        () => send(503, 'application/json', '{"status":"unavailable","reason":"redis unreachable"}'),
      );
      return;
    }
    if (url === '/metrics') {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        () => send(500, 'text/plain', 'metrics unavailable'),
      );
      return;
    }
    send(404, 'application/json', '{"message":"Not Found"}');
  });
}
