import { makeZip } from './zip-files';

/** What the deployable test function answers. */
export interface GreeterAnswer {
  code: string;
  greeting: string;
  version: string;
  x: unknown;
  suffix: string | null;
}

/**
 * A function's zip as a user would deploy it, code revision `code`: it needs its own
 * node_modules and a data file, answers what it is (its revision, the version running, the
 * payload's `x`, the SUFFIX variable), and an event with `mark` writes the answer to a marker file
 * of that name in MARKER_DIR.
 */
export function greeterZip(code: string): Buffer {
  return makeZip([
    {
      name: 'index.js',
      content: `const dep = require('greeting-dep');
const data = require('./data/settings.json');
exports.handler = async (event) => {
  const answer = { code: ${JSON.stringify(code)}, greeting: dep.greet(data.name), version: process.env.AWS_LAMBDA_FUNCTION_VERSION, x: event.x ?? null, suffix: process.env.SUFFIX ?? null };
  if (event.mark) {
    // Written whole, then renamed: a reader polling for the file never sees it half written.
    const fs = require('node:fs');
    const file = require('node:path').join(process.env.MARKER_DIR, event.mark);
    fs.writeFileSync(file + '.partial', JSON.stringify(answer));
    fs.renameSync(file + '.partial', file);
  }
  return answer;
};`,
    },
    { name: 'node_modules/greeting-dep/package.json', content: '{"name":"greeting-dep","main":"lib.js"}' },
    { name: 'node_modules/greeting-dep/lib.js', content: 'exports.greet = (name) => `hello ${name}`;' },
    { name: 'data/settings.json', content: '{"name":"world"}' },
  ]);
}
