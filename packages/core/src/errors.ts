/**
 * invoq's error model. Each error carries a stable `code`; the Lambda exception name (what the
 * AWS SDKs turn into typed exceptions) follows from it. Core never speaks HTTP: the API's error
 * handler is the one place that maps a code to a status.
 */
export const EXCEPTION_NAMES = {
  FUNCTION_NOT_FOUND: 'ResourceNotFoundException',
  NOT_FOUND: 'ResourceNotFoundException',
  INVALID_REQUEST_CONTENT: 'InvalidRequestContentException',
  INVALID_PARAMETER: 'InvalidParameterValueException',
  PAYLOAD_TOO_LARGE: 'RequestTooLargeException',
  THROTTLED: 'TooManyRequestsException',
  // The management API's: the resource exists or is busy (an update in progress, a folder
  // function), and a RevisionId that is no longer the current one.
  RESOURCE_CONFLICT: 'ResourceConflictException',
  PRECONDITION_FAILED: 'PreconditionFailedException',
  MISSING_CREDENTIALS: 'UnrecognizedClientException',
  UNKNOWN_CREDENTIALS: 'UnrecognizedClientException',
  INVALID_SIGNATURE: 'InvalidSignatureException',
  FORBIDDEN: 'AccessDeniedException',
  // A Lambda API call invoq does not implement. Not in Lambda's model (an SDK raises its
  // service exception with this name); not ResourceNotFoundException, which reads as "no such
  // function"; the name several AWS services use for the same answer (Cognito, KMS, SSM).
  UNSUPPORTED_OPERATION: 'UnsupportedOperationException',
  QUEUE_UNAVAILABLE: 'ServiceException',
  SERVICE: 'ServiceException',
  // Gateway routes, as API Gateway answers them: a function error or malformed proxy response,
  // and the integration timeout.
  BAD_GATEWAY: 'InternalServerErrorException',
  GATEWAY_TIMEOUT: 'IntegrationTimeoutException',
} as const;

export type InvoqErrorCode = keyof typeof EXCEPTION_NAMES;

const SERVICE_FAULTS = new Set<InvoqErrorCode>(['SERVICE', 'QUEUE_UNAVAILABLE', 'BAD_GATEWAY', 'GATEWAY_TIMEOUT']);

export interface InvoqErrorDetails {
  /** Lambda's throttle reason, e.g. `ReservedFunctionConcurrentInvocationLimitExceeded`. */
  reason?: string;
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class InvoqError extends Error {
  override readonly name = 'InvoqError';
  readonly reason: string | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly code: InvoqErrorCode,
    message: string,
    details: InvoqErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = details.reason;
    this.retryAfterSeconds = details.retryAfterSeconds;
  }

  get exceptionName(): string {
    return EXCEPTION_NAMES[this.code];
  }

  /** Lambda's `Type`: whose fault it is. */
  get faultType(): 'User' | 'Service' {
    return SERVICE_FAULTS.has(this.code) ? 'Service' : 'User';
  }
}

/**
 * A control signal, not a failure: a run given up before it began (its caller stopped waiting for
 * an environment), so nothing of it ran. Matched by class or by `name`, as BullMQ's own signals.
 */
export class NotStartedError extends Error {
  override readonly name = 'NotStartedError';
  constructor(message = 'the run was given up before it started') {
    super(message);
  }
}

export function isNotStarted(e: unknown): boolean {
  return e instanceof Error && e.name === 'NotStartedError';
}

/** Turns anything caught into an Error, keeping the original as `cause` (graphile's coerceError). */
export function coerceError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : safeString(value), { cause: value });
}

function safeString(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** A function's failure, as Lambda's Node.js runtime reports it: data, never an exception. */
export interface FunctionError {
  errorType: string;
  errorMessage: string;
  trace: string[];
}
