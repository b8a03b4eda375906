import { LAMBDA_API_VERSIONS, LAMBDA_OPERATIONS } from './lambda-operations';

/** Lambda's API version prefixes (`/2015-03-31`, `/2016-08-19`, …): paths that are invoq's own. */
export const LAMBDA_API_PREFIXES: readonly string[] = LAMBDA_API_VERSIONS.map((version) => `/${version}`);

/** Whether a path lies under one of Lambda's API versions (`/2016-08-19/account-settings`). */
export function isLambdaApiPath(path: string): boolean {
  return LAMBDA_API_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

export interface LambdaOperation {
  name: string;
  method: string;
  /** The model's template, e.g. `/2015-03-31/functions/{FunctionName}/aliases/{Name}`. */
  requestUri: string;
}

type Segment = { kind: 'literal'; value: string } | { kind: 'label' } | { kind: 'greedy' };

interface CompiledOperation {
  operation: LambdaOperation;
  segments: Segment[];
  /** A query the template requires, e.g. `find=LayerVersion` (GetLayerVersionByArn). */
  query: [string, string] | undefined;
}

const segmentsOf = (path: string) => path.replace(/\/$/, '').split('/').slice(1);

function compile(operation: LambdaOperation): CompiledOperation {
  const [path, query] = operation.requestUri.split('?', 2) as [string, string?];
  const segments = segmentsOf(path).map((part): Segment => {
    // `{Name+}` takes the rest of the path (none in Lambda's model today, but the model allows it).
    if (/^\{\w+\+\}$/.test(part)) return { kind: 'greedy' };
    if (/^\{\w+\}$/.test(part)) return { kind: 'label' };
    return { kind: 'literal', value: part.toLowerCase() };
  });
  const [key, value = ''] = query?.split('=', 2) ?? [];
  return { operation, segments, query: key === undefined ? undefined : [key, value] };
}

/** Templates that need a query first (`/layers?find=LayerVersion` before `/layers`), then literals before labels. */
function specificity(c: CompiledOperation): string {
  return (c.query ? '0' : '1') + c.segments.map((s) => (s.kind === 'literal' ? '0' : s.kind === 'label' ? '1' : '2')).join('');
}

const COMPILED = LAMBDA_OPERATIONS.map(([name, method, requestUri]) => compile({ name, method, requestUri })).sort((a, b) =>
  specificity(a).localeCompare(specificity(b)),
);

function decoded(part: string): string {
  try {
    return decodeURIComponent(part).toLowerCase();
  } catch {
    return part.toLowerCase();
  }
}

function matches(segments: Segment[], parts: string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.kind === 'greedy') return parts.length > i && parts.slice(i).every((p) => p !== '');
    const part = parts[i];
    if (part === undefined || part === '') return false;
    if (s.kind === 'literal' && decoded(part) !== s.value) return false;
  }
  return parts.length === segments.length;
}

/**
 * The Lambda operation a request is, by the model's method and requestUri: a label
 * (`{FunctionName}`) is one non-empty path segment, a greedy label (`{Key+}`) the rest. Literal
 * segments match whatever their case, as express matches invoq's own routes; HEAD is GET's.
 * `rawPath` is the path as received (still percent-encoded), `rawQuery` the query without `?`.
 */
export function findLambdaOperation(method: string, rawPath: string, rawQuery = ''): LambdaOperation | undefined {
  const wanted = method === 'HEAD' ? 'GET' : method;
  const parts = segmentsOf(rawPath);
  const query = new URLSearchParams(rawQuery);
  const found = COMPILED.find(
    (c) => c.operation.method === wanted && matches(c.segments, parts) && (c.query === undefined || query.get(c.query[0]) === c.query[1]),
  );
  return found?.operation;
}
