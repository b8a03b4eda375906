import { validateHeaderName, validateHeaderValue } from 'node:http';

/** An HTTP answer built from a function's proxy response. */
export interface GatewayResponse {
  statusCode: number;
  /** Header name → values; `headers` and `multiValueHeaders` merged. */
  headers: Map<string, string[]>;
  body: Buffer;
}

/** The function answered something API Gateway would refuse ("Malformed Lambda proxy response"). */
export class MalformedProxyResponse extends Error {
  override readonly name = 'MalformedProxyResponse';
}

const ALLOWED_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);
/** Set by HTTP itself from the body we send; a function's values would corrupt the framing. */
const FRAMING_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade']);
type Scalar = string | number | boolean;
const isScalar = (v: unknown): v is Scalar => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkHeader(name: string, value: string): void {
  try {
    validateHeaderName(name);
    validateHeaderValue(name, value);
  } catch (e) {
    throw new MalformedProxyResponse(`header ${JSON.stringify(name.slice(0, 60))}: ${(e as Error).message}`);
  }
}

/**
 * Reads a function's result (JSON text) as API Gateway's proxy response:
 * `{statusCode (a number, or a string of 3 digits), headers?, multiValueHeaders?, body?, isBase64Encoded?}`. Anything else (other
 * keys, wrong types, not JSON) throws `MalformedProxyResponse`, which the gateway answers 502.
 */
export function parseProxyResponse(resultJson: string): GatewayResponse {
  let value: unknown;
  try {
    value = JSON.parse(resultJson);
  } catch {
    throw new MalformedProxyResponse('the result is not JSON');
  }
  if (!isObject(value)) throw new MalformedProxyResponse('the result is not an object');
  const extra = Object.keys(value).filter((k) => !ALLOWED_KEYS.has(k));
  if (extra.length > 0) throw new MalformedProxyResponse(`unexpected keys: ${extra.slice(0, 5).join(', ')}`);
  const { headers, multiValueHeaders, body, isBase64Encoded } = value;
  // API Gateway also takes the status as a string of digits: AWS's own blueprints answer '200'.
  const statusCode = typeof value.statusCode === 'string' && /^\d{3}$/.test(value.statusCode) ? Number(value.statusCode) : value.statusCode;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw new MalformedProxyResponse('statusCode must be an integer from 100 to 599');
  }
  if (body !== undefined && body !== null && typeof body !== 'string') throw new MalformedProxyResponse('body must be a string');
  if (isBase64Encoded !== undefined && typeof isBase64Encoded !== 'boolean') throw new MalformedProxyResponse('isBase64Encoded must be a boolean');

  const merged = new Map<string, string[]>();
  // As API Gateway merges them: a name in multiValueHeaders takes its values from there.
  if (headers !== undefined && headers !== null) {
    if (!isObject(headers)) throw new MalformedProxyResponse('headers must be an object');
    for (const [name, v] of Object.entries(headers)) {
      if (!isScalar(v)) throw new MalformedProxyResponse(`headers.${name.slice(0, 60)} must be a string, number or boolean`);
      merged.set(name.toLowerCase(), [String(v)]);
    }
  }
  if (multiValueHeaders !== undefined && multiValueHeaders !== null) {
    if (!isObject(multiValueHeaders)) throw new MalformedProxyResponse('multiValueHeaders must be an object');
    const fromMulti = new Map<string, string[]>();
    for (const [name, values] of Object.entries(multiValueHeaders)) {
      if (!Array.isArray(values) || !values.every(isScalar))
        throw new MalformedProxyResponse(`multiValueHeaders.${name.slice(0, 60)} must be an array of strings`);
      const lower = name.toLowerCase();
      fromMulti.set(lower, [...(fromMulti.get(lower) ?? []), ...values.map(String)]);
    }
    for (const [name, values] of fromMulti) merged.set(name, values);
  }
  for (const [name, values] of merged) {
    if (FRAMING_HEADERS.has(name)) merged.delete(name);
    else for (const v of values) checkHeader(name, v);
  }
  if (!merged.has('content-type')) merged.set('content-type', ['application/json']);
  const text = typeof body === 'string' ? body : '';
  return { statusCode, headers: merged, body: isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8') };
}
