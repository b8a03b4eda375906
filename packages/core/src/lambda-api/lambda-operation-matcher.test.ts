import { LAMBDA_API_PREFIXES, findLambdaOperation, isLambdaApiPath } from './lambda-operation-matcher';
import { LAMBDA_OPERATIONS } from './lambda-operations';

describe('findLambdaOperation', () => {
  it.each([
    ['GET', '/2016-08-19/account-settings', '', 'GetAccountSettings'],
    // Older models (the CLI v2 on Debian) write it with a trailing slash.
    ['GET', '/2016-08-19/account-settings/', '', 'GetAccountSettings'],
    ['HEAD', '/2016-08-19/account-settings', '', 'GetAccountSettings'],
    ['POST', '/2015-03-31/functions', '', 'CreateFunction'],
    ['GET', '/2015-03-31/functions/', '', 'ListFunctions'],
    ['DELETE', '/2015-03-31/functions/my-fn', '', 'DeleteFunction'],
    ['PUT', '/2015-03-31/functions/my-fn/code', '', 'UpdateFunctionCode'],
    ['GET', '/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ax/aliases/live', '', 'GetAlias'],
    ['POST', '/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ax', '', 'TagResource'],
    ['GET', '/2018-10-31/layers', '', 'ListLayers'],
    ['GET', '/2018-10-31/layers', 'find=LayerVersion&Arn=arn%3Ax', 'GetLayerVersionByArn'],
    ['GET', '/2018-10-31/layers', 'Arn=arn%3Ax&find=LayerVersion', 'GetLayerVersionByArn'],
    ['GET', '/2019-09-30/functions/f/provisioned-concurrency', 'List=ALL', 'ListProvisionedConcurrencyConfigs'],
    ['GET', '/2019-09-30/functions/f/provisioned-concurrency', 'Qualifier=1', 'GetProvisionedConcurrencyConfig'],
    ['GET', '/2021-10-31/functions/f/url', '', 'GetFunctionUrlConfig'],
    ['GET', '/2021-10-31/functions/f/urls', '', 'ListFunctionUrlConfigs'],
    ['POST', '/2014-11-13/functions/f/invoke-async/', '', 'InvokeAsync'],
    ['GET', '/2025-12-01/durable-executions/arn%3Ax%2Fdurable-execution%2Fa%2Fb/history', '', 'GetDurableExecutionHistory'],
    ['GET', '/2015-03-31/FUNCTIONS/f/Aliases', '', 'ListAliases'],
    ['GET', '/2015-03-31/functions/f/%61liases', '', 'ListAliases'],
  ])('%s %s?%s is %s', (method, path, query, name) => {
    expect(findLambdaOperation(method, path, query)?.name).toBe(name);
  });

  it.each([
    ['GET', '/2015-03-31/functions/f/invocations'],
    ['PATCH', '/2015-03-31/functions/f'],
    ['GET', '/2015-03-31/functions//aliases'],
    ['GET', '/2015-03-31/functions/f/aliases/a/b'],
    ['GET', '/2015-03-31/nope'],
    ['GET', '/2015-03-31'],
    ['GET', '/2016-08-19/account-settings/x'],
  ])('%s %s is no operation', (method, path) => {
    expect(findLambdaOperation(method, path)).toBeUndefined();
  });

  it('names every operation of the table from its own template', () => {
    for (const [name, method, requestUri] of LAMBDA_OPERATIONS) {
      const [path, query = ''] = requestUri.split('?');
      const concrete = path!.replace(/\{\w+\+?\}/g, 'x');
      expect([name, findLambdaOperation(method, concrete, query)?.name]).toEqual([name, name]);
    }
  });
});

describe('isLambdaApiPath', () => {
  it('takes every API version of the model, and nothing else', () => {
    expect(LAMBDA_API_PREFIXES).toEqual(
      expect.arrayContaining([
        '/2014-11-13',
        '/2015-03-31',
        '/2016-08-19',
        '/2017-03-31',
        '/2017-10-31',
        '/2018-10-31',
        '/2019-09-25',
        '/2019-09-30',
        '/2020-04-22',
        '/2020-06-30',
        '/2021-10-31',
      ]),
    );
    expect(isLambdaApiPath('/2016-08-19/account-settings')).toBe(true);
    expect(isLambdaApiPath('/2021-10-31')).toBe(true);
    expect(isLambdaApiPath('/2016-08-190/x')).toBe(false);
    expect(isLambdaApiPath('/2018-06-01/runtime/invocation/next')).toBe(false);
    expect(isLambdaApiPath('/orders/2015-03-31')).toBe(false);
  });
});
