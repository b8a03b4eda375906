import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeRuntimeName } from '../execution/lambda-environment';
import { describeFunction } from './function-configuration';
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

  it('loads Python and custom-runtime functions, locating a handler module for Node only', () => {
    const dir = dirWith({
      py: { json: '{"runtime":"python3.12","handler":"app.handler"}' },
      pkg: { json: '{"runtime":"python3.13","handler":"pkg.app.handler"}' },
      init: { json: '{"runtime":"python3.11","handler":"pkg.handler"}' },
      custom: { json: '{"runtime":"provided.al2023","handler":"my.handler"}' },
      proc: { json: '{"handler":"index.handler","isolation":"process"}', files: ['index.js'] },
    });
    fs.writeFileSync(path.join(dir, 'py', 'app.py'), 'def handler(event, context): return event');
    fs.mkdirSync(path.join(dir, 'pkg', 'pkg'));
    fs.writeFileSync(path.join(dir, 'pkg', 'pkg', 'app.py'), '');
    fs.mkdirSync(path.join(dir, 'init', 'pkg'));
    fs.writeFileSync(path.join(dir, 'init', 'pkg', '__init__.py'), '');
    fs.writeFileSync(path.join(dir, 'custom', 'bootstrap'), '#!/bin/sh\n', { mode: 0o755 });
    const byName = Object.fromEntries(loadFunctions(dir).map((f) => [f.name, f]));
    expect(byName.py).toMatchObject({ handlerFile: undefined, handlerExport: undefined, config: { runtime: 'python3.12', handler: 'app.handler' } });
    expect(byName.pkg!.config.runtime).toBe('python3.13');
    expect(byName.init!.handlerFile).toBeUndefined();
    expect(byName.custom).toMatchObject({ handlerFile: undefined, config: { runtime: 'provided.al2023', handler: 'my.handler' } });
    expect(byName.proc).toMatchObject({ handlerFile: path.join(dir, 'proc', 'index.js'), config: { isolation: 'process' } });
  });

  it.each([
    ['a Python module that is not there', '{"runtime":"python3.12","handler":"pkg.app.handler"}', () => {}, /field "handler" names the module pkg\/app\.py or pkg\/app\/__init__\.py, which does not exist in /],
    ['a Python module outside the folder', '{"runtime":"python3.12","handler":"/etc/passwd.handler"}', () => {}, /field "handler" names the module/],
    ['no bootstrap', '{"runtime":"provided.al2"}', () => {}, /runtime "provided\.al2" runs .*bootstrap, which does not exist/],
    [
      'a bootstrap that is not executable',
      '{"runtime":"provided"}',
      (dir: string) => fs.writeFileSync(path.join(dir, 'bootstrap'), '#!/bin/sh\n', { mode: 0o644 }),
      /runtime "provided" runs .*bootstrap, which is not executable \(chmod \+x bootstrap\)/,
    ],
    ['a bootstrap that is a folder', '{"runtime":"provided"}', (dir: string) => fs.mkdirSync(path.join(dir, 'bootstrap')), /bootstrap, which is not a file/],
    ['isolation "thread" for Python', '{"runtime":"python3.12","handler":"app.handler","isolation":"thread"}', () => {}, /field "isolation" cannot be "thread" with runtime "python3\.12"/],
  ])('refuses %s with a FunctionDefinitionError naming the file', (_what, json, prepare: (dir: string) => void, message) => {
    const dir = dirWith({ bad: { json } });
    prepare(path.join(dir, 'bad'));
    expect(() => loadFunctions(dir)).toThrow(FunctionDefinitionError);
    expect(() => loadFunctions(dir)).toThrow(message);
    expect(() => loadFunctions(dir)).toThrow(path.join(dir, 'bad', 'function.json'));
  });

  it('describes a function with its runtime (http as provided.http)', () => {
    const dir = dirWith({ a: { json: '{"handler":"index.handler"}', files: ['index.js'] }, p: { json: '{"runtime":"python3.12","handler":"app.handler"}', files: ['app.py'] } });
    const [a, p] = loadFunctions(dir);
    expect(describeFunction(a!, { includeEnvironment: false }).Runtime).toBe(nodeRuntimeName());
    expect(describeFunction(p!, { includeEnvironment: false })).toMatchObject({ Runtime: 'python3.12', Handler: 'app.handler' });
  });

  it('refuses a handler outside the function directory', () => {
    const dir = dirWith({ sneaky: { json: '{"handler":"../other/index.handler"}' }, other: { json: '{"handler":"index.handler"}', files: ['index.js'] } });
    expect(() => loadFunctions(dir)).toThrow(/field "handler"/);
  });
});
