import type { FunctionError } from '../errors';

export type DestinationCondition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded' | 'WorkerLost';

/** Lambda's destination invocation record (what onSuccess / onFailure receive). */
export interface DestinationRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: DestinationCondition;
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext?: { statusCode: number; executedVersion: '$LATEST'; functionError?: 'Unhandled' };
  responsePayload?: unknown;
}

export interface RecordInput {
  requestId: string;
  functionArn: string;
  condition: DestinationCondition;
  attempts: number;
  payload: string;
  /** The result's JSON text on success. */
  resultBody?: string;
  /** The last attempt's error on failure; absent for an event that never ran. */
  error?: Pick<FunctionError, 'errorType' | 'errorMessage'> & { trace?: string[] };
}

function parseOrText(text: string): unknown {
  try {
    return text.length === 0 ? {} : JSON.parse(text);
  } catch {
    return text;
  }
}

export function buildDestinationRecord(input: RecordInput, now = new Date()): DestinationRecord {
  const record: DestinationRecord = {
    version: '1.0',
    timestamp: now.toISOString(),
    requestContext: {
      requestId: input.requestId,
      // Qualified, as Lambda sends it even for unqualified invokes.
      functionArn: `${input.functionArn}:$LATEST`,
      condition: input.condition,
      approximateInvokeCount: input.attempts,
    },
    requestPayload: parseOrText(input.payload),
  };
  if (input.condition === 'Success') {
    record.responseContext = { statusCode: 200, executedVersion: '$LATEST' };
    record.responsePayload = input.resultBody === undefined ? null : parseOrText(input.resultBody);
  } else if (input.error && input.condition !== 'EventAgeExceeded') {
    record.responseContext = { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' };
    record.responsePayload = { errorType: input.error.errorType, errorMessage: input.error.errorMessage, trace: input.error.trace ?? [] };
  }
  return record;
}
