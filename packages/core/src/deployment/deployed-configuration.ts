import { lambdaTimestamp, type FunctionConfiguration } from '../functions/function-configuration';
import { functionArn } from '../functions/resolved-function';
import { latestRevisionId, type AliasRecord, type DeployedFunction, type VersionRecord } from './deployed-function';
import { HOST_ARCHITECTURE } from './management-requests';

/** Lambda's `FunctionConfiguration` of a deployed function's version (GetFunction, ListFunctions, the change calls' answers). */
export interface DeployedFunctionConfiguration extends Omit<FunctionConfiguration, 'Version' | 'State' | 'LastUpdateStatus'> {
  Version: string;
  RevisionId: string;
  State: 'Pending' | 'Active';
  StateReason?: string;
  StateReasonCode?: 'Creating';
  LastUpdateStatus?: 'InProgress' | 'Successful';
  LastUpdateStatusReason?: string;
  LastUpdateStatusReasonCode?: 'Creating';
}

export interface DescribeOptions {
  region: string;
  now: number;
  /** `Environment` can hold secrets: only admin callers see it. */
  includeEnvironment: boolean;
  /**
   * The qualifier the ARN ends with. Lambda answers an unqualified read of `$LATEST` with the
   * unqualified ARN, `Qualifier=$LATEST` with `:$LATEST`, an alias with the alias; a published
   * version always names itself. Defaults to the version's number (none for `$LATEST`).
   */
  arnQualifier?: string;
}

/**
 * The lifecycle fields at `now` (see `DeployedFunction.settlesAt`), as AWS answers them: a new
 * function is Pending with no LastUpdateStatus until it settles; an updated one stays Active
 * with LastUpdateStatus InProgress (AWS says "being created" for updates too). Published
 * versions are copies of a settled `$LATEST`, so always Active and Successful.
 */
function lifecycle(
  fn: DeployedFunction,
  record: VersionRecord,
  now: number,
): Pick<
  DeployedFunctionConfiguration,
  'State' | 'StateReason' | 'StateReasonCode' | 'LastUpdateStatus' | 'LastUpdateStatusReason' | 'LastUpdateStatusReasonCode'
> {
  const settling = record.version === '$LATEST' && now < fn.settlesAt;
  if (settling && fn.lastChange === 'create') return { State: 'Pending', StateReason: 'The function is being created.', StateReasonCode: 'Creating' };
  if (settling) {
    return {
      State: 'Active',
      LastUpdateStatus: 'InProgress',
      LastUpdateStatusReason: 'The function is being created.',
      LastUpdateStatusReasonCode: 'Creating',
    };
  }
  return { State: 'Active', LastUpdateStatus: 'Successful' };
}

export function describeDeployedVersion(fn: DeployedFunction, record: VersionRecord, options: DescribeOptions): DeployedFunctionConfiguration {
  const qualifier = options.arnQualifier ?? (record.version === '$LATEST' ? undefined : record.version);
  const config: DeployedFunctionConfiguration = {
    FunctionName: fn.name,
    FunctionArn: qualifier === undefined ? functionArn(fn.name, options.region) : `${functionArn(fn.name, options.region)}:${qualifier}`,
    Runtime: record.runtime,
    Role: record.role,
    Handler: record.handler,
    CodeSize: record.codeSize,
    Description: record.description,
    Timeout: record.timeout,
    MemorySize: record.memorySize,
    LastModified: lambdaTimestamp(new Date(record.modifiedAt)),
    CodeSha256: record.codeSha256,
    Version: record.version,
    RevisionId: record.version === '$LATEST' ? latestRevisionId(fn, options.now) : record.revisionId,
    ...lifecycle(fn, record, options.now),
    PackageType: 'Zip',
    Architectures: [HOST_ARCHITECTURE],
  };
  if (options.includeEnvironment) config.Environment = { Variables: { ...record.environment } };
  return config;
}

/** Lambda's `AliasConfiguration`. `RoutingConfig` only when the alias splits traffic. */
export function describeAlias(fn: DeployedFunction, alias: AliasRecord, region: string) {
  return {
    AliasArn: `${functionArn(fn.name, region)}:${alias.name}`,
    Name: alias.name,
    FunctionVersion: alias.functionVersion,
    Description: alias.description,
    ...(Object.keys(alias.additionalVersionWeights).length === 0 ? {} : { RoutingConfig: { AdditionalVersionWeights: { ...alias.additionalVersionWeights } } }),
    RevisionId: alias.revisionId,
  };
}

/** A version number (`"3"`), `$LATEST`, or an alias: the record it names, and undefined when none. */
export function versionOf(fn: DeployedFunction, qualifier: string | undefined): VersionRecord | undefined {
  if (qualifier === undefined || qualifier === '$LATEST') return fn.latest;
  if (/^\d+$/.test(qualifier)) return fn.versions[qualifier];
  const alias = fn.aliases[qualifier];
  return alias === undefined ? undefined : alias.functionVersion === '$LATEST' ? fn.latest : fn.versions[alias.functionVersion];
}
