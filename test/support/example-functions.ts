import fs from 'node:fs';
import path from 'node:path';
import { EXAMPLE_FUNCTIONS_DIR } from './harness';

/**
 * A copy of the bundled `functions/` whose order functions keep their store in `ordersDir`, so a
 * test that runs the order example as shipped writes nothing into the checkout's `.invoq/`.
 */
export function copyExampleFunctions(into: string, ordersDir: string): string {
  fs.cpSync(EXAMPLE_FUNCTIONS_DIR, into, { recursive: true });
  for (const name of fs.readdirSync(into)) {
    const file = path.join(into, name, 'function.json');
    if (!fs.existsSync(file)) continue;
    const config = JSON.parse(fs.readFileSync(file, 'utf8')) as { environment?: Record<string, string> };
    if (config.environment?.ORDERS_DIR === undefined) continue;
    config.environment.ORDERS_DIR = ordersDir;
    fs.writeFileSync(file, JSON.stringify(config));
  }
  return into;
}
