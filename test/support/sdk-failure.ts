import type { LambdaServiceException } from '@aws-sdk/client-lambda';

/** The error an SDK call fails with; a call that succeeds fails the test. */
export function failure(promise: Promise<unknown>): Promise<LambdaServiceException> {
  return promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e as LambdaServiceException,
  );
}
