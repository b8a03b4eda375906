export { ConfigError, loadConfig, isLoopbackHost, type ResolvedConfig, type AccessKey, type HostPort, type RedisTarget } from './config/load-config';
export { API_SHUTDOWN_GRACE_MS, PROCESS_STOP_GRACE_MS, WORKER_SHUTDOWN_GRACE_MS } from './config/shutdown-grace';
export { describeRedisTarget } from './config/describe-redis';
export { InvoqError, NotStartedError, isNotStarted, coerceError, EXCEPTION_NAMES, type InvoqErrorCode, type FunctionError } from './errors';
export { INVOQ_VERSION } from './version';
export {
  FUNCTION_NAME_PATTERN,
  LAMBDA_ASYNC_DEFAULTS,
  functionSchema,
  type FunctionOptions,
  type ParsedFunction,
  type AsyncPolicy,
  type AsyncOptions,
} from './functions/function-schema';
export { loadFunctions, FunctionDefinitionError } from './functions/load-functions';
export { FunctionRegistry } from './functions/function-registry';
export { functionArn, type ResolvedFunction } from './functions/resolved-function';
export { Executor } from './execution/executor';
export type { ExecutorOptions } from './execution/executor-options';
export type { InvocationOutcome, InvocationRequest } from './execution/invocation';
export { formatLogTail, frameRunLog } from './execution/log-tail';
export { LAMBDA_TIME_ZONE, RESERVED_ENVIRONMENT_VARIABLES, nodeRuntimeName } from './execution/lambda-environment';
export { newTraceId, traceIdFromHeader, traceIdOfStoredEvent } from './invocation/trace-id';
export { logInvocation } from './logging/invocation-log';
export {
  createRedisConnection,
  type RedisClient,
  waitForRedis,
  checkRedisDurability,
  closeRedis,
  endBlockingConnections,
  pingRedis,
  REQUEST_REDIS_DEADLINE_MS,
} from './redis/redis-connection';
export { functionQueueName, functionOfQueue, functionKey } from './queue/queue-names';
export { EVENT_JOB_NAME, isEventJobData, eventAgeStart, type EventJobData } from './queue/job-data';
export { discoverFunctionQueues } from './status/queue-discovery';
export { FunctionLoaders, LOADER_HEARTBEAT_MS, type FunctionLoadersOptions } from './status/function-loaders';
export { KnownQueues, type KnownQueuesOptions, type KnownQueueNotice, type FunctionQueueState } from './status/known-queues';
export { UnloadedEventSweeper, type UnloadedEventSweeperOptions } from './dlq/unloaded-event-sweeper';
export { EventQueues, BACKOFF_TYPE, BACKSTOP_ATTEMPTS, type EventQueueOptions } from './queue/event-queues';
export { EventProducer, idempotentRequestId, IDEMPOTENCY_WINDOW_SECONDS } from './queue/event-producer';
export { DeadLetterStore, type DeadLetterEntry } from './dlq/dead-letter-store';
export { RedriveStore, type RedriveProgress, type RedriveState, type SnapshotEntry } from './dlq/redrive-store';
export { RedriveRunner, type RedriveRunnerOptions, type RedriveStart } from './dlq/redrive-runner';
export { parseAttemptRecords, deadLetterReasonOf, type AttemptRecord } from './queue/attempt-record';
export { RetryAttemptError, DeadLetterError } from './worker/attempt-errors';
export { SlotPool } from './worker/slot-pool';
export { FairWorker, type StartRoom } from './worker/fair-worker';
export { HOLD_ONLY_LIMITER, queueHoldRemainingMs } from './worker/queue-hold';
export { RUN_RETRY_DELAY_MS } from './worker/worker-timing';
export {
  decideAfterFailure,
  isEventTooOld,
  retryDelayMs,
  RETRY_JITTER,
  type DeadLetterReason,
  type FailureDecision,
  type RetryPolicy,
} from './policy/retry-policy';
export { createMetrics, initFunctionSeries, DURATION_BUCKETS, type Metrics, type InvocationType } from './metrics/metrics';
export { registerQueueStats, type QueueNameSource } from './metrics/queue-stats-collector';
export { createLogger, flushLogger, LOG_BUFFER_BYTES, LOG_FLUSH_INTERVAL_MS, type Logger, type LoggerOptions } from './logging/logger';
export { createMeterCache, type FunctionMeters } from './metrics/function-meters';
export { describeFunction, type FunctionConfiguration } from './functions/function-configuration';
export { EventInvokeConfigStore, type EventInvokeConfigStoreOptions } from './functions/event-invoke-config-store';
export {
  eventInvokeConfigInputSchema,
  setsNothing,
  NOTHING_TO_SET_MESSAGE,
  type EventInvokeConfigInput,
  type StoredEventInvokeConfig,
  type EffectiveEventInvokeConfig,
  type EventInvokeConfigSource,
} from './functions/event-invoke-config';
export {
  InvocationStatusReader,
  describeInvocation,
  currentRecords,
  REQUEST_ID_PATTERN,
  type InvocationStatus,
  type InvocationState,
  type AttemptHistoryEntry,
} from './status/invocation-status';
export type { RedriveRecord } from './queue/job-data';
export { buildDestinationRecord, type DestinationRecord, type DestinationCondition } from './destinations/destination-record';
export { signDelivery, verifyDelivery, SIGNATURE_HEADER } from './destinations/destination-signature';
export { DestinationQueues, destinationQueueName, DELIVERY_ATTEMPTS, type DeliveryJobData } from './destinations/destination-queues';
export { CircuitBreakers, CIRCUIT_STATE, isCircuitOpen } from './protection/circuit-breakers';
export { QueuedEventsCap } from './protection/queued-events-cap';
export { RedisOomBackoff, isRedisOomError, type RedisOomBackoffOptions } from './redis/redis-oom-backoff';
export {
  RedisMemoryHeadroom,
  parseMemoryInfo,
  estimatedEventBytes,
  type RedisMemoryReading,
  type RedisMemoryHeadroomOptions,
} from './protection/redis-memory-headroom';
export { ConcurrencyLeases, reservedConcurrencyExceeded } from './protection/concurrency-leases';
export { Invoker, type InvokerDeps } from './invocation/invoker';
export { InvocationPipeline, type InvocationPipelineDeps, type InvocationRunResult } from './invocation/invocation-pipeline';
export { LAMBDA_API_PREFIXES, isLambdaApiPath, findLambdaOperation, type LambdaOperation } from './lambda-api/lambda-operation-matcher';
export { RouteTable, RouteDefinitionError, isReservedPath, RESERVED_PATH_PREFIXES, type GatewayRoute, type RouteMatch } from './gateway/route-table';
export { buildProxyEvent, GATEWAY_STAGE, type ApiGatewayProxyEvent, type GatewayRequest } from './gateway/proxy-event';
export { parseProxyResponse, MalformedProxyResponse, type GatewayResponse } from './gateway/proxy-response';
export { destinationSchema, isFunctionDestination } from './destinations/destination-target';
export { dropFinishedPayload, KEPT_FINISHED_PAYLOAD_BYTES } from './queue/finished-event';
export { EnvironmentWaitMarks, isWaitingForEnvironment, ENVIRONMENT_WAIT_FIELD } from './worker/environment-wait-mark';
export { createTierFoundation, requireRedisTarget } from './startup/tier-foundation';
export { limitHeapGrowth, settleHeapLimit } from './startup/heap-growth';
export { serviceNodeFlags } from './startup/young-generation';
export { SETTLE_MS, latestRevisionId, codeInUse, type DeployedFunction, type VersionRecord, type AliasRecord } from './deployment/deployed-function';
export { FunctionStore, type StoreChange } from './deployment/function-store';
export { parseFunctionName, type ParsedFunctionName } from './functions/function-name';
export {
  HOST_ARCHITECTURE,
  IGNORED_MEMBERS,
  parseCreateFunction,
  parseUpdateFunctionCode,
  parseUpdateFunctionConfiguration,
  parsePublishVersion,
  parseCreateAlias,
  parseUpdateAlias,
  parsePutFunctionConcurrency,
  parseTagResource,
} from './deployment/management-requests';
export {
  describeDeployedVersion,
  describeAlias,
  versionOf,
  type DeployedFunctionConfiguration,
  type DescribeOptions,
} from './deployment/deployed-configuration';
export { CODE_PATH_PREFIX, CODE_URL_TTL_SECONDS, signedCodePath, checkCodeUrl, hexOfCodeSha256, type CodeUrlCheck } from './deployment/code-url';
export {
  FunctionDeployments,
  type FunctionDeploymentsDeps,
  type CreateFunctionInput,
  type ConfigurationPatch,
  type AliasInput,
} from './deployment/function-deployments';
export { CodeArchiveError, LAMBDA_CODE_LIMITS, codeSha256, extractArchive, type CodeLimits, type ArchiveErrorKind } from './deployment/code-archive';
export { CodeCache } from './deployment/code-cache';
