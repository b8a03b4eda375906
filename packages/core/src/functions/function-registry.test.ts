import type { DeployedFunction } from '../deployment/deployed-function';
import { InvoqError } from '../errors';
import { FunctionRegistry } from './function-registry';
import { functionArn, type ResolvedFunction } from './resolved-function';

const fn = { name: 'orders', version: '$LATEST', source: 'folder', executionKey: 'orders', arn: functionArn('orders') } as ResolvedFunction;
const registry = new FunctionRegistry([fn]);

describe('FunctionRegistry.resolve', () => {
  it.each([
    ['orders', undefined],
    ['orders', '$LATEST'],
    ['orders:$LATEST', undefined],
    ['arn:aws:lambda:eu-west-1:123456789012:function:orders', undefined],
    ['arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST', '$LATEST'],
    ['123456789012:function:orders', undefined],
  ])('finds %s (qualifier %s)', (name, qualifier) => {
    expect(registry.resolve(name, qualifier)).toBe(fn);
  });

  it.each([
    ['nope', undefined, 'FUNCTION_NOT_FOUND', /Function not found: arn:aws:lambda:.*:function:nope:\$LATEST/],
    ['orders', '1', 'FUNCTION_NOT_FOUND', /orders:1/],
    ['orders:prod', undefined, 'FUNCTION_NOT_FOUND', /orders:prod/],
    ['orders:$LATEST', '2', 'INVALID_PARAMETER', /derived qualifier/],
    ['bad name!', undefined, 'INVALID_PARAMETER', /failed to satisfy constraint/],
    ['__proto__', undefined, 'FUNCTION_NOT_FOUND', /__proto__/],
  ])('refuses %s (qualifier %s) with %s', (name, qualifier, code, message) => {
    let caught: unknown;
    try {
      registry.resolve(name, qualifier);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvoqError);
    expect((caught as InvoqError).code).toBe(code);
    expect((caught as InvoqError).message).toMatch(message);
  });
});

describe('FunctionRegistry with deployed functions', () => {
  const version = (v: string) => ({ name: 'shop', version: v, source: 'deployed', executionKey: `shop:${v}`, arn: functionArn('shop') }) as ResolvedFunction;
  const versions = new Map([
    ['$LATEST', version('$LATEST')],
    ['1', version('1')],
    ['2', version('2')],
  ]);
  const aliases = {
    live: { name: 'live', functionVersion: '1', description: '', additionalVersionWeights: { '2': 0.25 }, revisionId: 'r' },
    stable: { name: 'stable', functionVersion: '2', description: '', additionalVersionWeights: {}, revisionId: 'r' },
  };
  const entry = { fn: { name: 'shop', aliases } as unknown as DeployedFunction, versions };
  let draw = 0;
  const deployed = new FunctionRegistry([fn], 'us-east-1', { get: (name) => (name === 'shop' ? entry : undefined), names: () => ['shop'] }, () => draw);

  it('lists folder and deployed functions, $LATEST of each', () => {
    expect(deployed.list().map((f) => `${f.name}:${f.version}`)).toEqual(['orders:$LATEST', 'shop:$LATEST']);
    expect(deployed.isFolderFunction('orders')).toBe(true);
    expect(deployed.isFolderFunction('shop')).toBe(false);
  });

  it.each([
    ['shop', undefined, '$LATEST'],
    ['shop', '1', '1'],
    ['shop:2', undefined, '2'],
    ['arn:aws:lambda:us-east-1:123456789012:function:shop:stable', undefined, '2'],
  ])('resolves %s (qualifier %s) to version %s', (name, qualifier, expected) => {
    expect(deployed.resolve(name, qualifier).version).toBe(expected);
  });

  it("picks a weighted alias's extra version by the draw, the main one otherwise", () => {
    draw = 0.1;
    expect(deployed.resolve('shop', 'live').version).toBe('2');
    draw = 0.25;
    expect(deployed.resolve('shop', 'live').version).toBe('1');
    draw = 0.99;
    expect(deployed.resolve('shop', 'live').version).toBe('1');
  });

  it.each([['3'], ['nope'], ['__proto__'], ['$latest'], ['constructor']])('does not find qualifier %s', (qualifier) => {
    expect(() => deployed.resolve('shop', qualifier)).toThrow(/Function not found: .*:function:shop:/);
  });

  it('serves an event its version, or nothing once that version is gone', () => {
    expect(deployed.version('shop', '2')?.version).toBe('2');
    expect(deployed.version('shop', '7')).toBeUndefined();
    expect(deployed.version('orders', '1')).toBeUndefined();
    expect(deployed.executionKeys()).toEqual(new Set(['orders', 'shop:$LATEST', 'shop:1', 'shop:2']));
  });
});
