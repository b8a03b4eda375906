import { InvoqError } from '../errors';
import { checkCodeUrl, hexOfCodeSha256, signedCodePath } from './code-url';
import {
  HOST_ARCHITECTURE,
  parseCreateAlias,
  parseCreateFunction,
  parseUpdateAlias,
  parseUpdateFunctionCode,
  parseUpdateFunctionConfiguration,
} from './management-requests';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const create = { FunctionName: 'f', Runtime: 'nodejs22.x', Role: 'arn:aws:iam::000000000000:role/r', Handler: 'index.handler', Code: { ZipFile: 'UEsFBg==' } };
const refusal = (call: () => unknown) => {
  try {
    call();
  } catch (e) {
    expect(e).toBeInstanceOf(InvoqError);
    return [(e as InvoqError).code, (e as InvoqError).message];
  }
  throw new Error('expected a refusal');
};

test('CreateFunction: PascalCase members become the input; ZipFile is decoded; unknown members are ignored', () => {
  const input = parseCreateFunction(
    json({ ...create, Environment: { Variables: { A: '1' } }, Publish: true, TracingConfig: { Mode: 'Active' }, NewMember: 1 }),
  );
  expect(input).toEqual({
    name: 'f',
    runtime: 'nodejs22.x',
    role: create.Role,
    handler: 'index.handler',
    zipFile: Buffer.from('UEsFBg==', 'base64'),
    environment: { A: '1' },
    publish: true,
  });
});

test.each([
  ['malformed base64', { Code: { ZipFile: 'a*b=' } }, /Value at 'Code.ZipFile'.*base64/],
  ['S3 code', { Code: { S3Bucket: 'b', S3Key: 'k' } }, /Code.ZipFile only/],
  ['an image', { PackageType: 'Image' }, /PackageType Image is not supported/],
  ['layers', { Layers: ['arn:aws:lambda:us-east-1:123456789012:layer:x:1'] }, /Layers are not supported by invoq/],
  ['another architecture', { Architectures: [HOST_ARCHITECTURE === 'arm64' ? 'x86_64' : 'arm64'] }, /this host's architecture/],
  ['a code-signing config', { CodeSigningConfigArn: 'arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-1' }, /code signatures are not checked/],
  ['a Timeout that is not a number', { Timeout: '3' }, /Value at 'Timeout'/],
  ['no Handler', { Handler: undefined }, /Handler is required/],
  ['no Runtime', { Runtime: undefined }, /Runtime is required.*nodejs20\.x/],
])('CreateFunction refuses %s (InvalidParameterValueException)', (_what, change, message) => {
  const [code, text] = refusal(() => parseCreateFunction(json({ ...create, ...change })));
  expect(code).toBe('INVALID_PARAMETER');
  expect(text).toMatch(message);
});

test('a body that is not JSON is InvalidRequestContentException', () => {
  expect(refusal(() => parseCreateFunction(Buffer.from('{')))[0]).toBe('INVALID_REQUEST_CONTENT');
});

test('UpdateFunctionCode needs ZipFile and refuses DryRun; UpdateFunctionConfiguration clears Environment given without Variables', () => {
  expect(parseUpdateFunctionCode(json({ ZipFile: 'UEsFBg==', RevisionId: 'r' }))).toEqual({ zipFile: Buffer.from('UEsFBg==', 'base64'), revisionId: 'r' });
  expect(refusal(() => parseUpdateFunctionCode(json({})))[1]).toMatch(/ZipFile is required/);
  expect(refusal(() => parseUpdateFunctionCode(json({ ZipFile: 'UEsFBg==', DryRun: true })))[1]).toMatch(/DryRun is not supported/);
  expect(parseUpdateFunctionConfiguration(json({ Environment: {} }))).toEqual({ environment: {} });
  expect(parseUpdateFunctionConfiguration(json({ Description: 'd', VpcConfig: { SubnetIds: [] } }))).toEqual({ description: 'd' });
});

test('aliases: RoutingConfig given replaces the weights, absent keeps them', () => {
  expect(parseCreateAlias(json({ Name: 'live', FunctionVersion: '1', RoutingConfig: { AdditionalVersionWeights: { '2': 0.5 } } }))).toEqual({
    name: 'live',
    functionVersion: '1',
    additionalVersionWeights: { '2': 0.5 },
  });
  expect(parseUpdateAlias(json({ RoutingConfig: {} }))).toEqual({ additionalVersionWeights: {} });
  expect(parseUpdateAlias(json({ Description: 'x' }))).toEqual({ description: 'x' });
});

test('code URLs: valid until they expire, bound to the name and hash, refused when forged', () => {
  const key = Buffer.alloc(32, 7);
  const sha = Buffer.alloc(32, 1).toString('base64');
  const now = 1_800_000_000_000;
  const url = new URL(`http://h${signedCodePath(key, 'f', sha, now)}`);
  const [, , , name, hex] = url.pathname.split('/');
  const { expires, signature } = Object.fromEntries(url.searchParams);
  expect([name, hex]).toEqual(['f', hexOfCodeSha256(sha)]);
  expect(checkCodeUrl(key, 'f', hex!, expires, signature, now)).toBe('valid');
  expect(checkCodeUrl(key, 'f', hex!, expires, signature, now + 601_000)).toBe('expired');
  expect(checkCodeUrl(key, 'g', hex!, expires, signature, now)).toBe('invalid');
  expect(checkCodeUrl(Buffer.alloc(32, 8), 'f', hex!, expires, signature, now)).toBe('invalid');
  expect(checkCodeUrl(key, 'f', hex!, String(Number(expires) + 1), signature, now)).toBe('invalid');
  expect(checkCodeUrl(key, 'f', hex!, expires, 'zz', now)).toBe('invalid');
});
