import type { ResolvedFunction } from '../functions/resolved-function';
import { LAMBDA_API_PREFIXES } from '../lambda-api/lambda-operation-matcher';

/**
 * invoq's own path prefixes. They always win over gateway routes, and a route that would live
 * under one of them is a start-up error. Every one of Lambda's API versions is among them, not
 * only those invoq serves: an SDK's call invoq does not implement must hear so, never reach a
 * function's catch-all route.
 */
// `/invoq` holds invoq's own URLs that are not an API call (GetFunction's code downloads).
export const RESERVED_PATH_PREFIXES: readonly string[] = [
  ...LAMBDA_API_PREFIXES,
  '/invocations',
  '/dlq',
  '/admin',
  '/metrics',
  '/healthz',
  '/readyz',
  '/invoq',
];

/** Case-insensitive, as express matches invoq's own routers: `/Metrics` is still `/metrics`. */
export function isReservedPath(path: string): boolean {
  const lower = path.toLowerCase();
  return RESERVED_PATH_PREFIXES.some((prefix) => lower === prefix || lower.startsWith(`${prefix}/`));
}

export type RouteMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS' | 'ANY';

export interface GatewayRoute {
  fn: ResolvedFunction;
  method: RouteMethod;
  /** The template as written, e.g. `/orders/{id}`: the event's `resource`. */
  resource: string;
  invocationType: 'RequestResponse' | 'Event';
  auth: 'key' | 'none';
}

export interface RouteMatch {
  route: GatewayRoute;
  /** `null` when the template has no parameters, as API Gateway sends it. */
  pathParameters: Record<string, string> | null;
}

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string } | { kind: 'greedy'; name: string };

interface CompiledRoute {
  route: GatewayRoute;
  segments: Segment[];
  /** Literal segments before parameters before a greedy tail: API Gateway's precedence. */
  rank: number[];
}

export class RouteDefinitionError extends Error {
  override readonly name = 'RouteDefinitionError';
}

const PARAM = /^\{([A-Za-z0-9_.-]+)\}$/;
const GREEDY = /^\{([A-Za-z0-9_.-]+)\+\}$/;
const LITERAL = /^[A-Za-z0-9._~!$&'()*,;=:@-]+$/;

function compile(route: GatewayRoute): CompiledRoute {
  const where = `function ${route.fn.name}: route ${route.method} ${route.resource}`;
  const parts = route.resource === '/' ? [] : route.resource.replace(/\/$/, '').slice(1).split('/');
  const names = new Set<string>();
  const segments = parts.map((part, i): Segment => {
    const greedy = GREEDY.exec(part);
    const param = PARAM.exec(part);
    const name = greedy?.[1] ?? param?.[1];
    if (name !== undefined) {
      if (names.has(name)) throw new RouteDefinitionError(`${where}: parameter {${name}} appears twice`);
      names.add(name);
    }
    if (greedy) {
      if (i !== parts.length - 1) throw new RouteDefinitionError(`${where}: {${greedy[1]}+} must be the last segment`);
      return { kind: 'greedy', name: greedy[1]! };
    }
    if (param) return { kind: 'param', name: param[1]! };
    if (!LITERAL.test(part))
      throw new RouteDefinitionError(`${where}: "${part}" is not a valid path segment (use letters, digits, -._~ and {name} or {name+})`);
    return { kind: 'literal', value: part };
  });
  if (segments[0]?.kind === 'literal' && isReservedPath(`/${segments[0].value}`)) {
    throw new RouteDefinitionError(`${where}: /${segments[0].value} is one of invoq's own paths (${RESERVED_PATH_PREFIXES.join(', ')})`);
  }
  const rank = segments.map((s) => (s.kind === 'literal' ? 0 : s.kind === 'param' ? 1 : 2));
  return { route, segments, rank };
}

/** Two templates that match the same paths: same literals, parameters in the same places. */
const shapeOf = (c: CompiledRoute) => c.segments.map((s) => (s.kind === 'literal' ? s.value : s.kind === 'param' ? '{}' : '{+}')).join('/');

function compareRank(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < Math.max(a.rank.length, b.rank.length); i++) {
    const diff = (a.rank[i] ?? -1) - (b.rank[i] ?? -1);
    if (diff !== 0) return diff;
  }
  // An exact method beats ANY on the same template.
  return (a.route.method === 'ANY' ? 1 : 0) - (b.route.method === 'ANY' ? 1 : 0);
}

/**
 * Every function's `routes`, checked once at start (conflicts and invoq's own paths are errors)
 * and matched per request by API Gateway's precedence: literal segments beat `{param}`, which
 * beats `{proxy+}`; an exact method beats `ANY`.
 */
export class RouteTable {
  private readonly routes: CompiledRoute[];

  constructor(functions: readonly ResolvedFunction[]) {
    const compiled: CompiledRoute[] = [];
    const seen = new Map<string, GatewayRoute>();
    for (const fn of functions) {
      for (const r of fn.config.routes) {
        const route: GatewayRoute = { fn, method: r.method, resource: r.path, invocationType: r.invocationType ?? 'RequestResponse', auth: r.auth ?? 'key' };
        const c = compile(route);
        const key = `${route.method} ${shapeOf(c)}`;
        const other = seen.get(key);
        if (other) {
          throw new RouteDefinitionError(
            `routes collide: ${route.method} ${route.resource} (function ${fn.name}) and ${other.method} ${other.resource} (function ${other.fn.name}) match the same requests`,
          );
        }
        seen.set(key, route);
        compiled.push(c);
      }
    }
    this.routes = compiled.sort(compareRank);
  }

  get size(): number {
    return this.routes.length;
  }

  /**
   * The route for a request, if any. `path` is the raw (still percent-encoded) path; parameters
   * come back decoded. invoq's own paths never match.
   */
  match(method: string, path: string): RouteMatch | undefined {
    if (this.routes.length === 0 || isReservedPath(path)) return undefined;
    const parts = path === '/' ? [] : path.replace(/\/$/, '').slice(1).split('/');
    for (const c of this.routes) {
      if (c.route.method !== 'ANY' && c.route.method !== method) continue;
      const params = matchSegments(c.segments, parts);
      if (params) return { route: c.route, pathParameters: Object.keys(params).length > 0 ? params : null };
    }
    return undefined;
  }
}

function matchSegments(segments: Segment[], parts: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = Object.create(null);
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s.kind === 'greedy') {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.some((p) => p === '')) return undefined;
      const value = decode(rest.join('/'));
      if (value === undefined) return undefined;
      params[s.name] = value;
      return { ...params };
    }
    const part = parts[i];
    if (part === undefined || part === '') return undefined;
    if (s.kind === 'literal') {
      if (decode(part) !== s.value) return undefined;
    } else {
      const value = decode(part);
      if (value === undefined) return undefined;
      params[s.name] = value;
    }
  }
  return parts.length === segments.length ? { ...params } : undefined;
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
