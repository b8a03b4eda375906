import { InvoqError } from '../errors';
import { FunctionRegistry } from './function-registry';
import { functionArn, type ResolvedFunction } from './resolved-function';

const fn = { name: 'orders', arn: functionArn('orders') } as ResolvedFunction;
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
