// The API as `npm run api` runs it, with the log destination given as argv[2] (JSON of core's
// LoggerOptions), for `npm run bench:logs`. It tells its parent when it listens.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { createLogger, loadConfig } = require(path.join(root, 'packages/core/dist/index.js'));
const { startApi } = require(path.join(root, 'apps/api/dist/api-service.js'));

const config = loadConfig(process.env);
const logger = createLogger(config.logLevel, 'invoq-api', JSON.parse(process.argv[2] ?? '{}'));
const api = await startApi(config, logger);
process.send?.({ port: api.port });
process.on('SIGTERM', () => void api.close().then(() => process.exit(0)));
