import { Router } from 'express';
import type { Registry } from 'prom-client';

export interface HealthDeps {
  /** Resolves when Redis answers, rejects otherwise. */
  pingRedis: () => Promise<void>;
  registry: Registry;
}

/** `/healthz`, `/readyz` and `/metrics`: no key needed. */
export function createHealthRouter(deps: HealthDeps): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    try {
      await deps.pingRedis();
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'unavailable', reason: 'redis unreachable' });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.setHeader('Content-Type', deps.registry.contentType);
    res.send(await deps.registry.metrics());
  });
  return router;
}
