import { functionSchema, type FunctionOptions } from '../functions/function-schema';
import { functionArn, type ResolvedFunction } from '../functions/resolved-function';
import { RouteDefinitionError, RouteTable } from './route-table';

const fnWith = (name: string, routes: FunctionOptions['routes']): ResolvedFunction =>
  ({ name, arn: functionArn(name), config: functionSchema.parse({ handler: 'index.handler', routes }) }) as ResolvedFunction;

describe('RouteTable.match', () => {
  const table = new RouteTable([
    fnWith('item', [{ method: 'GET', path: '/items/{id}' }]),
    fnWith('special', [{ method: 'GET', path: '/items/special' }]),
    fnWith('anyItem', [{ method: 'ANY', path: '/items/{id}' }]),
    fnWith('files', [{ method: 'ANY', path: '/files/{proxy+}' }]),
    fnWith('root', [{ method: 'GET', path: '/' }]),
    fnWith('nested', [{ method: 'GET', path: '/users/{userId}/orders/{orderId}' }]),
  ]);
  const who = (method: string, path: string) => table.match(method, path)?.route.fn.name;

  it('prefers a literal segment to a parameter, and an exact method to ANY', () => {
    expect(who('GET', '/items/special')).toBe('special');
    expect(who('GET', '/items/7')).toBe('item');
    expect(who('DELETE', '/items/7')).toBe('anyItem');
    expect(who('DELETE', '/items/special')).toBe('anyItem');
  });

  it('decodes parameters, and gives a greedy {proxy+} the rest of the path', () => {
    expect(table.match('GET', '/items/a%20b')?.pathParameters).toEqual({ id: 'a b' });
    expect(table.match('GET', '/users/u1/orders/o%2F2')?.pathParameters).toEqual({ userId: 'u1', orderId: 'o/2' });
    expect(table.match('PUT', '/files/a/b/c.txt')?.pathParameters).toEqual({ proxy: 'a/b/c.txt' });
    expect(table.match('GET', '/')).toMatchObject({ pathParameters: null });
  });

  it("matches nothing else, and never invoq's own paths", () => {
    expect(who('GET', '/items')).toBeUndefined();
    expect(who('GET', '/items/7/more')).toBeUndefined();
    expect(who('GET', '/files')).toBeUndefined();
    expect(who('GET', '/items//')).toBeUndefined();
    expect(who('POST', '/')).toBeUndefined();
    expect(who('GET', '/items/%E0%A4%A')).toBeUndefined();
    expect(new RouteTable([fnWith('all', [{ method: 'ANY', path: '/{proxy+}' }])]).match('GET', '/dlq')).toBeUndefined();
    expect(new RouteTable([fnWith('all', [{ method: 'ANY', path: '/{proxy+}' }])]).match('GET', '/Invocations/x')).toBeUndefined();
    // Every Lambda API version is invoq's, served or not (GetAccountSettings, Function URLs...).
    for (const path of [
      '/2016-08-19/account-settings',
      '/2016-08-19/account-settings/',
      '/2021-10-31/functions/f/url',
      '/2014-11-13/functions/f/invoke-async',
      '/2018-10-31',
    ]) {
      expect(new RouteTable([fnWith('all', [{ method: 'ANY', path: '/{proxy+}' }])]).match('GET', path)).toBeUndefined();
    }
  });

  it('takes a trailing slash as the same path', () => {
    expect(who('GET', '/items/7/')).toBe('item');
  });
});

describe('RouteTable checks routes at start', () => {
  it.each([
    [
      [fnWith('a', [{ method: 'GET', path: '/orders/{id}' }]), fnWith('b', [{ method: 'GET', path: '/orders/{orderId}' }])],
      /routes collide: GET \/orders\/\{orderId\} \(function b\) and GET \/orders\/\{id\} \(function a\)/,
    ],
    [
      [
        fnWith('a', [
          { method: 'GET', path: '/x' },
          { method: 'GET', path: '/x/' },
        ]),
      ],
      /routes collide/,
    ],
    [[fnWith('a', [{ method: 'POST', path: '/2015-03-31/functions/x/invocations' }])], /one of invoq's own paths/],
    [[fnWith('a', [{ method: 'GET', path: '/metrics' }])], /\/metrics is one of invoq's own paths/],
    [[fnWith('a', [{ method: 'GET', path: '/2016-08-19/account-settings' }])], /\/2016-08-19 is one of invoq's own paths/],
    [[fnWith('a', [{ method: 'ANY', path: '/2021-10-31/{proxy+}' }])], /\/2021-10-31 is one of invoq's own paths/],
    [[fnWith('a', [{ method: 'GET', path: '/2014-11-13' }])], /\/2014-11-13 is one of invoq's own paths/],
    // express matches invoq's own routers case-insensitively, so these would be shadowed or shadow.
    [[fnWith('a', [{ method: 'GET', path: '/Metrics' }])], /\/Metrics is one of invoq's own paths/],
    [[fnWith('a', [{ method: 'GET', path: '/DLQ/{id}' }])], /\/DLQ is one of invoq's own paths/],
    [[fnWith('a', [{ method: 'GET', path: '/{proxy+}/more' }])], /must be the last segment/],
    [[fnWith('a', [{ method: 'GET', path: '/{id}/{id}' }])], /parameter \{id\} appears twice/],
    [[fnWith('a', [{ method: 'GET', path: '/a b' }])], /not a valid path segment/],
    [[fnWith('a', [{ method: 'GET', path: '/a//b' }])], /not a valid path segment/],
  ])('refuses %#', (functions, message) => {
    expect(() => new RouteTable(functions)).toThrow(RouteDefinitionError);
    expect(() => new RouteTable(functions)).toThrow(message);
  });

  it('lets ANY and a method share a template', () => {
    expect(new RouteTable([fnWith('a', [{ method: 'ANY', path: '/x' }]), fnWith('b', [{ method: 'GET', path: '/x' }])]).size).toBe(2);
  });
});
