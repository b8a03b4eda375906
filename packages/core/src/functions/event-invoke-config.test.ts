import {
  destinationsOfConfig,
  effectiveEventInvokeConfig,
  fromAsyncOptions,
  mergeEventInvokeConfig,
  replaceEventInvokeConfig,
  retryPolicyOf,
  setsNothing,
  type EventInvokeConfigInput,
  type StoredEventInvokeConfig,
} from './event-invoke-config';
import { functionSchema } from './function-schema';

const T = 1_700_000_000.5;
const OK = 'http://127.0.0.1/ok';
const FAIL = 'http://127.0.0.1/fail';
const SINK = 'arn:aws:lambda:us-east-1:000000000000:function:sink';

describe('function.json’s async block', () => {
  it.each<[string, Record<string, unknown>, unknown]>([
    ['no async key: no configuration', {}, undefined],
    ['an empty block is a configuration that sets nothing', { async: {} }, {}],
    ['only what it writes, never the defaults', { async: { onSuccess: OK } }, { onSuccess: OK }],
    ['every field', { async: { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60, onSuccess: OK, onFailure: FAIL } }, { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60, onSuccess: OK, onFailure: FAIL }],
  ])('%s', (_, async, asyncOptions) => {
    const parsed = functionSchema.parse({ handler: 'index.handler', ...async });
    expect(parsed.asyncOptions).toEqual(asyncOptions);
    // `async` stays the block with Lambda's defaults filled in.
    expect(parsed.async).toEqual({ maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600, ...(asyncOptions as object | undefined) });
  });

  it.each<[string, Parameters<typeof fromAsyncOptions>[0], StoredEventInvokeConfig]>([
    ['empty', {}, { LastModified: T }],
    ['retries only', { maximumRetryAttempts: 1 }, { LastModified: T, MaximumRetryAttempts: 1 }],
    ['age only', { maximumEventAgeInSeconds: 600 }, { LastModified: T, MaximumEventAgeInSeconds: 600 }],
    ['onSuccess only', { onSuccess: OK }, { LastModified: T, DestinationConfig: { OnSuccess: { Destination: OK } } }],
    [
      'everything',
      { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 60, onSuccess: OK, onFailure: SINK },
      { LastModified: T, MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60, DestinationConfig: { OnSuccess: { Destination: OK }, OnFailure: { Destination: SINK } } },
    ],
  ])('in Lambda’s shape: %s', (_, options, expected) => {
    expect(fromAsyncOptions(options, T)).toEqual(expected);
  });
});

describe('the configuration in force', () => {
  const stored: StoredEventInvokeConfig = { LastModified: T, MaximumRetryAttempts: 0 };
  const fromFile: StoredEventInvokeConfig = { LastModified: 1, DestinationConfig: { OnSuccess: { Destination: OK } } };

  it.each<[string, StoredEventInvokeConfig | undefined, StoredEventInvokeConfig | undefined, unknown]>([
    ['none set anywhere', undefined, undefined, undefined],
    ['function.json’s when nothing was Put', undefined, fromFile, { source: 'function.json', config: fromFile }],
    ['the Put one, whole, over function.json’s', stored, fromFile, { source: 'event-invoke-config', config: stored }],
    ['the Put one without function.json', stored, undefined, { source: 'event-invoke-config', config: stored }],
  ])('%s', (_, s, f, expected) => {
    expect(effectiveEventInvokeConfig(s, f)).toEqual(expected);
  });

  it.each<[string, EventInvokeConfigInput | undefined, { maximumRetryAttempts: number; maximumEventAgeInSeconds: number }, { onSuccess?: string; onFailure?: string }]>([
    ['no configuration: Lambda’s defaults, no destinations', undefined, { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 }, {}],
    ['retries 0 only: 6 hours, no destinations', { MaximumRetryAttempts: 0 }, { maximumRetryAttempts: 0, maximumEventAgeInSeconds: 21_600 }, {}],
    ['age only: 2 retries', { MaximumEventAgeInSeconds: 60 }, { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 60 }, {}],
    ['an empty side sends nothing', { DestinationConfig: { OnSuccess: {}, OnFailure: { Destination: FAIL } } }, { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 21_600 }, { onFailure: FAIL }],
    [
      'everything',
      { MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 120, DestinationConfig: { OnSuccess: { Destination: OK }, OnFailure: { Destination: SINK } } },
      { maximumRetryAttempts: 1, maximumEventAgeInSeconds: 120 },
      { onSuccess: OK, onFailure: SINK },
    ],
  ])('runs with %s', (_, config, policy, destinations) => {
    expect(retryPolicyOf(config)).toEqual(policy);
    expect(destinationsOfConfig(config)).toEqual(destinations);
  });
});

describe('Put replaces, Update merges', () => {
  it.each<[string, EventInvokeConfigInput, StoredEventInvokeConfig]>([
    ['retries only', { MaximumRetryAttempts: 0 }, { LastModified: T, MaximumRetryAttempts: 0 }],
    ['an explicit undefined is no setting', { MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: undefined }, { LastModified: T, MaximumRetryAttempts: 1 }],
    ['destinations kept as given', { DestinationConfig: { OnSuccess: {} } }, { LastModified: T, DestinationConfig: { OnSuccess: {} } }],
  ])('Put: %s', (_, input, expected) => {
    expect(replaceEventInvokeConfig(input, T)).toEqual(expected);
  });

  const withSuccess: EventInvokeConfigInput = { MaximumEventAgeInSeconds: 600, DestinationConfig: { OnSuccess: { Destination: OK } } };
  it.each<[string, EventInvokeConfigInput, EventInvokeConfigInput, StoredEventInvokeConfig]>([
    ['a retry setting keeps the destinations', withSuccess, { MaximumRetryAttempts: 0 }, { LastModified: T, MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 600, DestinationConfig: { OnSuccess: { Destination: OK } } }],
    ['a setting it names replaces that one', withSuccess, { MaximumEventAgeInSeconds: 60 }, { LastModified: T, MaximumEventAgeInSeconds: 60, DestinationConfig: { OnSuccess: { Destination: OK } } }],
    [
      'one destination side keeps the other',
      withSuccess,
      { DestinationConfig: { OnFailure: { Destination: FAIL } } },
      { LastModified: T, MaximumEventAgeInSeconds: 600, DestinationConfig: { OnSuccess: { Destination: OK }, OnFailure: { Destination: FAIL } } },
    ],
    ['an empty side clears it', withSuccess, { DestinationConfig: { OnSuccess: {} } }, { LastModified: T, MaximumEventAgeInSeconds: 600, DestinationConfig: { OnSuccess: {} } }],
    ['into an empty configuration', {}, { MaximumRetryAttempts: 1 }, { LastModified: T, MaximumRetryAttempts: 1 }],
  ])('Update: %s', (_, base, input, expected) => {
    expect(mergeEventInvokeConfig(base, input, T)).toEqual(expected);
  });

  it.each<[EventInvokeConfigInput, boolean]>([
    [{}, true],
    [{ MaximumRetryAttempts: undefined }, true],
    [{ MaximumRetryAttempts: 0 }, false],
    [{ MaximumEventAgeInSeconds: 60 }, false],
    [{ DestinationConfig: {} }, false],
  ])('%j sets nothing: %s', (input, expected) => {
    expect(setsNothing(input)).toBe(expected);
  });
});
