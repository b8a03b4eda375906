import type { FunctionError } from '../errors';
import type { ResolvedFunction } from '../functions/resolved-function';
import type { Sandbox } from './sandbox';

export interface ExecutorOptions {
  /** The functions' `AWS_REGION` and `AWS_DEFAULT_REGION`. Default `us-east-1`. */
  region?: string;
  /** How process environments (Python, custom runtimes, isolated Node) are confined. Default none. */
  sandbox?: Sandbox;
  /** Environments (threads) this process may hold, all functions together. Default 16. */
  maxEnvironments?: number;
  /** An idle environment is reclaimed after this long. Default 5 minutes. */
  idleTimeoutMs?: number;
  /**
   * A call that finds all of its function's environments busy waits for one of them. Every this
   * many ms while calls wait, a new environment starts if each busy one is stuck in a call that
   * is waiting (its thread mostly idle) rather than computing. Default 5 ms.
   */
  scaleUpAfterMs?: number;
  /**
   * Environments a function gets whenever calls wait, computing or not; past these, only
   * waiting calls add more. A second one hides the hand-off between threads: measured, a worker
   * draining CPU-light events ran 12–20% faster with two than with one, while sync invokes
   * gained nothing and the API paid ~10 MB of RSS for it. Default 2.
   */
  unconditionalEnvironments?: number;
  /**
   * Cores a function's computing runs may use: while calls wait and every environment of the
   * function is in a run longer than a scale check, new ones start up to this many (more would
   * only share the cores; a waiting run adds more whatever this says). Default
   * `os.availableParallelism()`.
   */
  cores?: number;
  /**
   * Runs an environment may hold at once, the running one included, when its function's runs
   * are short (see `queueBehindRunMs`): the thread then takes the next without sleeping between
   * them, and the main thread handles their answers together. 1 turns queueing off. Default 16:
   * a worker's default 32 slots over the two threads no-op runs stay on (with 8, half of them
   * stayed idle; see docs/benchmarks.md for what 16 bought).
   */
  runsPerEnvironment?: number;
  /** Runs queue behind each other only in environments whose recent runs took at most this. Default 1 ms. */
  queueBehindRunMs?: number;
  /** Told when an environment dies between runs (a late error left by `requestId`). */
  onLateError?: (fn: ResolvedFunction, requestId: string | undefined, error: FunctionError) => void;
  /**
   * Told whenever a run ends or an environment goes, so `roomFor` may have grown: the worker
   * fetches an event only when it could start (see `roomFor`).
   */
  onRoom?: () => void;
}
