/**
 * The main thread's check of every message an environment thread sends: its shape, for each
 * kind, and that an answer carries the token of the run in flight. What fails is refused; the
 * environment then ends (see `Environment`). The checks are a few comparisons per message: no
 * schema library on the hot path.
 */
type Fields = Record<string, unknown>;

const isString = (v: unknown): v is string => typeof v === 'string';
const isDuration = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isOptionalDuration = (v: unknown): boolean => v === undefined || isDuration(v);

function errorShapeProblem(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return 'its error is not an object';
  const e = error as Fields;
  if (!isString(e.errorType) || !isString(e.errorMessage)) return 'its error lacks errorType or errorMessage';
  if (!Array.isArray(e.trace) || !e.trace.every(isString)) return 'its error trace is not a list of lines';
  return undefined;
}

/** What is wrong with an answer of a run besides its token, or undefined. */
function answerProblem(m: Fields): string | undefined {
  switch (m.kind) {
    case 'result':
      if (!isString(m.body)) return 'a result without a body';
      break;
    case 'function-error': {
      const problem = errorShapeProblem(m.error);
      if (problem) return `a function error: ${problem}`;
      if (m.discardEnvironment !== undefined && m.discardEnvironment !== true) return 'a function error with a bad discardEnvironment';
      break;
    }
    case 'invalid-payload':
      return isString(m.message) ? undefined : 'an invalid-payload answer without a message';
  }
  if (!isOptionalDuration(m.initMs) || !isDuration(m.durationMs) || !isDuration(m.memoryUsedMb))
    return `a ${String(m.kind)} with bad timings or memory figures`;
  return undefined;
}

/**
 * Why `message` is refused, or undefined when it is what the runtime sends. `token`: the run in
 * flight's (undefined when none is): an answer or an init-done must carry it.
 */
export function refusalOf(message: unknown, token: string | undefined): string | undefined {
  if (typeof message !== 'object' || message === null) return 'a message that is not an object';
  const m = message as Fields;
  switch (m.kind) {
    case 'log':
      return isString(m.line) ? undefined : 'a log message without a line';
    case 'init-done':
    case 'result':
    case 'function-error':
    case 'invalid-payload':
      if (token === undefined) return `a ${m.kind} while no run is in flight`;
      if (m.token !== token) return `a ${m.kind} that does not answer the run in flight`;
      return m.kind === 'init-done' ? undefined : answerProblem(m);
    default:
      return `a message of unknown kind ${JSON.stringify(String(m.kind)).slice(0, 60)}`;
  }
}
