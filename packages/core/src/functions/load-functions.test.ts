import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FunctionDefinitionError, loadFunctions } from './load-functions';

function dirWith(defs: Record<string, { json: string; files?: string[] }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invoq-load-'));
  for (const [name, def] of Object.entries(defs)) {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'function.json'), def.json);
    for (const file of def.files ?? []) fs.writeFileSync(path.join(dir, name, file), 'exports.handler = async () => 1;');
  }
  return dir;
}

describe('loadFunctions', () => {
  it('loads the bundled examples, among them the seed’s', () => {
    const names = loadFunctions(path.resolve(__dirname, '../../../../functions')).map((f) => f.name);
    expect(names).toEqual(expect.arrayContaining(['testFunction', 'getOrder', 'putOrder']));
  });

  it('resolves .js, .cjs and .mjs handlers and applies defaults', () => {
    const dir = dirWith({
      a: { json: '{"handler":"index.handler"}', files: ['index.js'] },
      b: { json: '{"handler":"lib/main.run","timeout":2.5}', files: [] },
      c: { json: '{"handler":"h.handler"}', files: ['h.mjs'] },
    });
    fs.mkdirSync(path.join(dir, 'b', 'lib'));
    fs.writeFileSync(path.join(dir, 'b', 'lib', 'main.cjs'), '');
    const [a, b, c] = loadFunctions(dir);
    expect(a).toMatchObject({ name: 'a', handlerExport: 'handler', timeoutMs: 3000 });
    expect(a!.config).toMatchObject({ memorySize: 128, async: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 } });
    expect(b).toMatchObject({ handlerFile: path.join(dir, 'b', 'lib', 'main.cjs'), handlerExport: 'run', timeoutMs: 2500 });
    expect(c!.handlerFile).toBe(path.join(dir, 'c', 'h.mjs'));
  });

  it('reads a handler as Lambda does: the module up to the first dot, then a path inside it', () => {
    const dir = dirWith({ a: { json: '{"handler":"index.handlers.main"}', files: ['index.js'] } });
    const [a] = loadFunctions(dir, { region: 'eu-central-1' });
    expect(a).toMatchObject({ handlerFile: path.join(dir, 'a', 'index.js'), handlerExport: 'handlers.main', arn: 'arn:aws:lambda:eu-central-1:000000000000:function:a' });
  });

  it.each([
    ['{"handler": "index.handler", "timeout": 901}', /function\.json: field "timeout"/],
    ['{"handler": "index.handler", "async": {"maximumRetryAttempts": 3}}', /field "async\.maximumRetryAttempts"/],
    ['{"handler": "index.handler", "tiemout": 3}', /field "\(root\)".*tiemout/],
    ['{"timeout": 3}', /field "handler" is required/],
    ['{"handler": "index"}', /field "handler" must be "file\.export"/],
    ['{"handler": "missing.handler"}', /field "handler" names missing/],
    ['{"runtime": "http"}', /field "url"/],
    ['{"handler": "index.handler", "environment": {"AWS_REGION": "x"}}', /field "environment\.AWS_REGION" is reserved/],
    ['{"handler": "index.handler", "environment": {"TZ": "Europe/Paris"}}', /field "environment\.TZ" is reserved/],
    ['{"handler": "index.handler", "environment": {"_X_AMZN_TRACE_ID": "x"}}', /field "environment\._X_AMZN_TRACE_ID" is reserved/],
    ['{not json', /not valid JSON/],
  ])('refuses %s with an error naming the file and field', (json, message) => {
    const dir = dirWith({ bad: { json, files: ['index.js'] } });
    expect(() => loadFunctions(dir)).toThrow(FunctionDefinitionError);
    expect(() => loadFunctions(dir)).toThrow(message);
    expect(() => loadFunctions(dir)).toThrow(path.join(dir, 'bad', 'function.json'));
  });

  it('accepts a relative INVOQ_FUNCTIONS_DIR', () => {
    const dir = dirWith({ a: { json: '{"handler":"index.handler"}', files: ['index.js'] } });
    expect(loadFunctions(path.relative(process.cwd(), dir))[0]?.handlerFile).toBe(path.join(dir, 'a', 'index.js'));
  });

  it('refuses a directory name that is not a valid function name', () => {
    const dir = dirWith({ 'bad.name': { json: '{"handler":"index.handler"}', files: ['index.js'] } });
    expect(() => loadFunctions(dir)).toThrow(/function name "bad\.name"/);
  });

  it('refuses a handler outside the function directory', () => {
    const dir = dirWith({ sneaky: { json: '{"handler":"../other/index.handler"}' }, other: { json: '{"handler":"index.handler"}', files: ['index.js'] } });
    expect(() => loadFunctions(dir)).toThrow(/field "handler"/);
  });
});
