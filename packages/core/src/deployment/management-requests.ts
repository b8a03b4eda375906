import { z } from 'zod';
import { InvoqError } from '../errors';
import { LAMBDA_RUNTIMES } from '../functions/runtimes';
import type { AliasInput, ConfigurationPatch, CreateFunctionInput } from './deployment-inputs';

/**
 * The request bodies of Lambda's management calls, as the SDKs send them (PascalCase JSON),
 * turned into `FunctionDeployments`' inputs. Types and shapes are checked here; the semantics
 * (ranges, names, the runtime list, the zip) are `FunctionDeployments`' to check.
 *
 * Members a call does not name pass through ignored: SDKs add members over time, and refusing
 * them would break a newer SDK on a call invoq otherwise serves. Members that would change what
 * a function does if invoq honoured them are refused when invoq cannot honour them
 * (`REFUSED_MEMBERS`); the rest of those are accepted and ignored (`IGNORED_MEMBERS`, listed in
 * the docs).
 */

/** This host's architecture in Lambda's words: the only one a deployed function may name. */
export const HOST_ARCHITECTURE = process.arch === 'arm64' ? 'arm64' : 'x86_64';

/**
 * Members accepted and ignored, and why ignoring them is safe enough: each configures an AWS
 * service invoq does not have, and the function runs the same without it.
 */
export const IGNORED_MEMBERS: Readonly<Record<string, string>> = {
  VpcConfig: 'functions run on the host network; there is no VPC to attach',
  DeadLetterConfig: 'the SQS/SNS target is not reachable; failed events go to invoq’s DLQ (see docs/dlq.md) and event-invoke-config destinations',
  FileSystemConfigs: 'no EFS; a function sees only its code folder and /tmp',
  TracingConfig: 'no X-Ray; the trace id header is still passed on',
  KMSKeyArn: 'environment variables are kept in Redis as given (protect Redis as the secret store it is)',
  EphemeralStorage: '/tmp is the host’s, not a sized volume',
  SnapStart: 'Java only; nothing to snapshot on Node',
  LoggingConfig: 'logs go to invoq’s own log lines, not CloudWatch',
  ImageConfig: 'only used by container images, which are refused',
  MasterRegion: 'no replication (ListFunctions)',
};

const ZIP_ONLY = 'invoq takes code as Code.ZipFile only (base64 of a .zip): S3Bucket, S3Key, S3ObjectVersion and ImageUri are not supported';
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function refuse(message: string): never {
  throw new InvoqError('INVALID_PARAMETER', message);
}

/**
 * Members whose meaning invoq cannot keep: honouring them is impossible and ignoring them would
 * deploy something other than what was asked (S3 code, images, layers, another architecture, a
 * dry run that would apply, a code-signing policy that would not be enforced).
 */
function refuseUnsupported(body: Record<string, unknown>, codeAt: 'Code' | 'body'): void {
  const code = codeAt === 'Code' ? body.Code : body;
  if (code !== null && typeof code === 'object') {
    for (const member of ['S3Bucket', 'S3Key', 'S3ObjectVersion', 'ImageUri']) {
      if ((code as Record<string, unknown>)[member] !== undefined) refuse(ZIP_ONLY);
    }
  }
  if (body.PackageType === 'Image') refuse('PackageType Image is not supported by invoq: deploy a .zip package (PackageType Zip, Code.ZipFile)');
  if (Array.isArray(body.Layers) && body.Layers.length > 0) refuse('Layers are not supported by invoq: put the dependencies in the function’s zip');
  if (Array.isArray(body.Architectures) && body.Architectures.some((a) => a !== HOST_ARCHITECTURE)) {
    refuse(`Architectures: invoq runs functions on this host's architecture, ${HOST_ARCHITECTURE}; ${JSON.stringify(body.Architectures)} is not available`);
  }
  if (body.DryRun === true) refuse('DryRun is not supported by invoq: the update would be applied');
  if (typeof body.CodeSigningConfigArn === 'string' && body.CodeSigningConfigArn !== '') {
    refuse('CodeSigningConfigArn is not supported by invoq: code signatures are not checked');
  }
}

const zipFile = z.string().transform((value, ctx) => {
  if (value.length % 4 !== 0 || !BASE64.test(value)) {
    ctx.addIssue({ code: 'custom', message: 'Member must be the base64 of a .zip file' });
    return z.NEVER;
  }
  return Buffer.from(value, 'base64');
});

// Lambda's model's patterns for these members.
const role = z
  .string()
  .regex(
    /^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/,
    'Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+',
  );
const handler = z
  .string()
  .max(128)
  .regex(/^[^\s]+$/, 'Member must satisfy regular expression pattern: [^\\s]+');
const description = z.string().max(256);
const variables = z.record(z.string(), z.string());
const environment = z.object({ Variables: variables.optional() });
const tags = z.record(z.string(), z.string());
const routingConfig = z.object({ AdditionalVersionWeights: z.record(z.string(), z.number()).optional() });
const architectures = z.array(z.string()).min(1).max(1);
const packageType = z.enum(['Zip', 'Image']);

/** The configuration members CreateFunction and UpdateFunctionConfiguration share. */
const configurationMembers = {
  Runtime: z.string().optional(),
  Role: role.optional(),
  Handler: handler.optional(),
  Description: description.optional(),
  Timeout: z.number().int().optional(),
  MemorySize: z.number().int().optional(),
  Environment: environment.optional(),
  Layers: z.array(z.string()).optional(),
};

const createFunctionSchema = z.object({
  ...configurationMembers,
  FunctionName: z.string(),
  Role: role,
  Code: z.object({ ZipFile: zipFile.optional() }),
  Publish: z.boolean().optional(),
  PackageType: packageType.optional(),
  Tags: tags.optional(),
  Architectures: architectures.optional(),
});

const updateFunctionCodeSchema = z.object({
  ZipFile: zipFile.optional(),
  Publish: z.boolean().optional(),
  DryRun: z.boolean().optional(),
  RevisionId: z.string().optional(),
  Architectures: architectures.optional(),
});

const updateFunctionConfigurationSchema = z.object({ ...configurationMembers, RevisionId: z.string().optional() });

const publishVersionSchema = z.object({ CodeSha256: z.string().optional(), Description: description.optional(), RevisionId: z.string().optional() });

const aliasMembers = { Description: description.optional(), RoutingConfig: routingConfig.optional() };
const createAliasSchema = z.object({ ...aliasMembers, Name: z.string(), FunctionVersion: z.string() });
const updateAliasSchema = z.object({ ...aliasMembers, FunctionVersion: z.string().optional(), RevisionId: z.string().optional() });

const putConcurrencySchema = z.object({ ReservedConcurrentExecutions: z.number().int() });
const tagResourceSchema = z.object({ Tags: tags });

/** The body as JSON (an empty body is `{}`), then `schema`'s result, or Lambda's validation error. */
function parseBody<T extends z.ZodType>(schema: T, body: Buffer | undefined, codeAt?: 'Code' | 'body'): z.output<T> {
  const text = body && body.length > 0 ? body.toString('utf8') : '{}';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvoqError('INVALID_REQUEST_CONTENT', `Could not parse request body into json: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new InvoqError('INVALID_REQUEST_CONTENT', 'The request body must be a JSON object');
  if (codeAt) refuseUnsupported(raw as Record<string, unknown>, codeAt);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const member = issue?.path.join('.') || 'body';
    throw new InvoqError('INVALID_PARAMETER', `1 validation error detected: Value at '${member}' failed to satisfy constraint: ${issue?.message}`);
  }
  return parsed.data;
}

/** `Environment` as Lambda applies it: given without `Variables` (or with `{}`), it clears them. */
const variablesOf = (env: { Variables?: Record<string, string> } | undefined) => (env === undefined ? undefined : (env.Variables ?? {}));

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function requireMember<T>(value: T | undefined, message: string): T {
  if (value === undefined) refuse(message);
  return value;
}

export function parseCreateFunction(body: Buffer | undefined): CreateFunctionInput {
  const b = parseBody(createFunctionSchema, body, 'Code');
  const runtimes = LAMBDA_RUNTIMES.join(', ');
  return definedOnly({
    name: b.FunctionName,
    runtime: requireMember(b.Runtime, `Runtime is required for a .zip deployment package; invoq supports ${runtimes}`),
    role: b.Role,
    handler: requireMember(b.Handler, 'Handler is required for a .zip deployment package (e.g. index.handler)'),
    zipFile: requireMember(b.Code.ZipFile, `Code.ZipFile is required: ${ZIP_ONLY}`),
    description: b.Description,
    timeout: b.Timeout,
    memorySize: b.MemorySize,
    environment: variablesOf(b.Environment),
    publish: b.Publish,
    tags: b.Tags,
  });
}

export function parseUpdateFunctionCode(body: Buffer | undefined): { zipFile: Buffer; revisionId?: string; publish?: boolean } {
  const b = parseBody(updateFunctionCodeSchema, body, 'body');
  return definedOnly({ zipFile: requireMember(b.ZipFile, `ZipFile is required: ${ZIP_ONLY}`), revisionId: b.RevisionId, publish: b.Publish });
}

export function parseUpdateFunctionConfiguration(body: Buffer | undefined): ConfigurationPatch & { revisionId?: string } {
  const b = parseBody(updateFunctionConfigurationSchema, body, 'body');
  return definedOnly({
    runtime: b.Runtime,
    role: b.Role,
    handler: b.Handler,
    description: b.Description,
    timeout: b.Timeout,
    memorySize: b.MemorySize,
    environment: variablesOf(b.Environment),
    revisionId: b.RevisionId,
  });
}

export function parsePublishVersion(body: Buffer | undefined): { description?: string; revisionId?: string; codeSha256?: string } {
  const b = parseBody(publishVersionSchema, body);
  return definedOnly({ description: b.Description, revisionId: b.RevisionId, codeSha256: b.CodeSha256 });
}

export function parseCreateAlias(body: Buffer | undefined): AliasInput {
  const b = parseBody(createAliasSchema, body);
  return definedOnly({
    name: b.Name,
    functionVersion: b.FunctionVersion,
    description: b.Description,
    additionalVersionWeights: b.RoutingConfig?.AdditionalVersionWeights,
  });
}

/** UpdateAlias: a `RoutingConfig` given replaces the weights (`{}` clears them); absent keeps them. */
export function parseUpdateAlias(body: Buffer | undefined): Partial<AliasInput> & { revisionId?: string } {
  const b = parseBody(updateAliasSchema, body);
  return definedOnly({
    functionVersion: b.FunctionVersion,
    description: b.Description,
    additionalVersionWeights: b.RoutingConfig === undefined ? undefined : (b.RoutingConfig.AdditionalVersionWeights ?? {}),
    revisionId: b.RevisionId,
  });
}

export function parsePutFunctionConcurrency(body: Buffer | undefined): number {
  return parseBody(putConcurrencySchema, body).ReservedConcurrentExecutions;
}

export function parseTagResource(body: Buffer | undefined): Record<string, string> {
  return parseBody(tagResourceSchema, body).Tags;
}
