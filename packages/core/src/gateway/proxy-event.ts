import { isUtf8 } from 'node:buffer';
import { DEFAULT_ACCOUNT_ID } from '../functions/resolved-function';
import type { RouteMatch } from './route-table';

/** What the gateway knows of an HTTP request, independent of the HTTP framework. */
export interface GatewayRequest {
  method: string;
  /** The path as received, percent-encoded, without the query. */
  path: string;
  /** The query string without `?` ('' for none). */
  rawQuery: string;
  /** Node's `rawHeaders`: name, value, name, value… in the order and case they arrived. */
  rawHeaders: readonly string[];
  /** Header names (lower case) the function must not see: invoq's own credentials. */
  hiddenHeaders: ReadonlySet<string>;
  body: Buffer;
  sourceIp: string;
  protocol: string;
  requestId: string;
  receivedAt: Date;
}

/** API Gateway's REST proxy event (payload format 1.0), as `aws-lambda`'s `APIGatewayProxyEvent` types it. */
export interface ApiGatewayProxyEvent {
  resource: string;
  path: string;
  httpMethod: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
  pathParameters: Record<string, string> | null;
  stageVariables: null;
  requestContext: Record<string, unknown>;
  body: string | null;
  isBase64Encoded: boolean;
}

/** invoq serves routes on the API's root, like a `$default` stage. */
export const GATEWAY_STAGE = '$default';
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml)\b)/i;

/**
 * The body as the function sees it: text when it is UTF-8 of a textual (or unstated) content
 * type, base64 with `isBase64Encoded` otherwise (images, archives, protobuf…), so bytes survive.
 */
function encodeBody(body: Buffer, contentType: string | undefined): Pick<ApiGatewayProxyEvent, 'body' | 'isBase64Encoded'> {
  if (body.length === 0) return { body: null, isBase64Encoded: false };
  const textual = contentType === undefined || TEXT_TYPES.test(contentType.trim());
  if (textual && isUtf8(body)) return { body: body.toString('utf8'), isBase64Encoded: false };
  return { body: body.toString('base64'), isBase64Encoded: true };
}

function parseQuery(rawQuery: string): Pick<ApiGatewayProxyEvent, 'queryStringParameters' | 'multiValueQueryStringParameters'> {
  if (rawQuery === '') return { queryStringParameters: null, multiValueQueryStringParameters: null };
  // Null prototypes while filling, so `?__proto__=x` is a parameter, not a prototype.
  const single: Record<string, string> = Object.create(null);
  const multi: Record<string, string[]> = Object.create(null);
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    single[key] = value;
    (multi[key] ??= []).push(value);
  }
  return { queryStringParameters: { ...single }, multiValueQueryStringParameters: { ...multi } };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');
/** API Gateway's `requestTime`: `dd/MMM/yyyy:HH:mm:ss +0000`. */
function requestTime(at: Date): string {
  return `${pad(at.getUTCDate())}/${MONTHS[at.getUTCMonth()]}/${at.getUTCFullYear()}:${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} +0000`;
}

/** Builds the proxy event for a matched route. */
export function buildProxyEvent(request: GatewayRequest, match: RouteMatch): ApiGatewayProxyEvent {
  // Keys are written as they first arrived (`X-Foo` then `x-foo` is one header, spelled `X-Foo`);
  // the null prototype keeps a header named __proto__ a header.
  const headers: Record<string, string> = Object.create(null);
  const multiValueHeaders: Record<string, string[]> = Object.create(null);
  const spelling = new Map<string, string>();
  let contentType: string | undefined;
  let host = '';
  let userAgent: string | null = null;
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    const value = request.rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    if (request.hiddenHeaders.has(lower)) continue;
    if (lower === 'content-type') contentType = value;
    if (lower === 'host') host = value;
    if (lower === 'user-agent') userAgent = value;
    let key = spelling.get(lower);
    if (key === undefined) spelling.set(lower, (key = name));
    headers[key] = value;
    (multiValueHeaders[key] ??= []).push(value);
  }
  const path = safeDecodePath(request.path);
  return {
    resource: match.route.resource,
    path,
    httpMethod: request.method,
    headers: { ...headers },
    multiValueHeaders: { ...multiValueHeaders },
    ...parseQuery(request.rawQuery),
    pathParameters: match.pathParameters,
    stageVariables: null,
    requestContext: {
      accountId: DEFAULT_ACCOUNT_ID,
      apiId: 'invoq',
      domainName: host,
      domainPrefix: host.split('.')[0] ?? '',
      extendedRequestId: request.requestId,
      httpMethod: request.method,
      identity: {
        sourceIp: plainIpv4(request.sourceIp),
        userAgent,
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        user: null,
        userArn: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        clientCert: null,
      },
      path,
      protocol: request.protocol,
      requestId: request.requestId,
      requestTime: requestTime(request.receivedAt),
      requestTimeEpoch: request.receivedAt.getTime(),
      resourceId: `${match.route.method} ${match.route.resource}`,
      resourcePath: match.route.resource,
      stage: GATEWAY_STAGE,
      authorizer: null,
    },
    ...encodeBody(request.body, contentType),
  };
}

/** A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`; API Gateway shows `a.b.c.d`. */
function plainIpv4(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

function safeDecodePath(path: string): string {
  try {
    return decodeURI(path);
  } catch {
    return path;
  }
}
