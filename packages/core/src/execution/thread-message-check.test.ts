import { refusalOf } from './thread-message-check';

const TOKEN = 'the-run-in-flight';
const result = { kind: 'result', token: TOKEN, body: '{"ok":true}', initMs: undefined, durationMs: 1.5, memoryUsedMb: 9 };
const functionError = {
  kind: 'function-error',
  token: TOKEN,
  error: { errorType: 'Boom', errorMessage: 'kaboom', trace: ['Boom: kaboom'] },
  initMs: 3,
  durationMs: 0,
  memoryUsedMb: 9,
};

describe('refusalOf: the main thread’s check of what a thread sends', () => {
  it.each([
    ['a log line', { kind: 'log', line: 'hello' }, undefined],
    ['a log line between runs', { kind: 'log', line: 'late' }, undefined],
    ['init-done of the run in flight', { kind: 'init-done', token: TOKEN }, TOKEN],
    ['a result of the run in flight', result, TOKEN],
    ['a function error of the run in flight', functionError, TOKEN],
    ['an init failure that discards the environment', { ...functionError, discardEnvironment: true }, TOKEN],
    ['an invalid payload', { kind: 'invalid-payload', token: TOKEN, message: 'Unexpected token' }, TOKEN],
  ])('accepts %s', (_what, message, token) => {
    expect(refusalOf(message, token)).toBeUndefined();
  });

  it.each([
    ['not an object', 'result', /not an object/],
    ['null', null, /not an object/],
    ['an unknown kind', { kind: 'exit-now' }, /unknown kind "exit-now"/],
    ['no kind', { body: 'x' }, /unknown kind "undefined"/],
    ['a log without its line', { kind: 'log', line: 42 }, /log message without a line/],
    ['a result without its token', { ...result, token: undefined }, /does not answer the run in flight/],
    ['a result with another run’s token', { ...result, token: 'guessed' }, /does not answer the run in flight/],
    ['a result that carries only the request id', { ...result, token: undefined, requestId: 'req-1' }, /does not answer the run in flight/],
    ['init-done with another token', { kind: 'init-done', token: 'guessed' }, /init-done that does not answer/],
    ['a result without a body', { ...result, body: undefined }, /result without a body/],
    ['a result whose body is an object', { ...result, body: { ok: true } }, /result without a body/],
    ['a result with a negative duration', { ...result, durationMs: -1 }, /bad timings/],
    ['a result with a duration that is not a number', { ...result, durationMs: '1' }, /bad timings/],
    ['a result without its memory figure', { ...result, memoryUsedMb: undefined }, /bad timings or memory/],
    ['a function error whose error is a string', { ...functionError, error: 'boom' }, /error is not an object/],
    ['a function error without errorType', { ...functionError, error: { errorMessage: 'x', trace: [] } }, /lacks errorType/],
    ['a function error with a trace of objects', { ...functionError, error: { errorType: 'E', errorMessage: 'x', trace: [{}] } }, /trace is not a list/],
    ['a function error with discardEnvironment false', { ...functionError, discardEnvironment: false }, /bad discardEnvironment/],
    ['an invalid payload without a message', { kind: 'invalid-payload', token: TOKEN }, /without a message/],
  ])('refuses %s', (_what, message, reason) => {
    expect(refusalOf(message, TOKEN)).toMatch(reason);
  });

  it('refuses an answer while no run is in flight, even with a token', () => {
    expect(refusalOf(result, undefined)).toMatch(/while no run is in flight/);
    expect(refusalOf({ kind: 'init-done', token: TOKEN }, undefined)).toMatch(/while no run is in flight/);
  });
});
