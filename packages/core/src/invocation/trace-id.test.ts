import { newTraceId, traceIdFromHeader, traceIdOfStoredEvent } from './trace-id';

const TRACE_ID = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$/;
const AT = Date.UTC(2026, 11, 1, 10, 0, 0);

describe('trace ids', () => {
  it('makes a new one with the receipt time in its root, different each time', () => {
    const ids = Array.from({ length: 1000 }, () => newTraceId(AT));
    for (const id of ids) expect(id).toMatch(new RegExp(`^Root=1-${Math.floor(AT / 1000).toString(16)}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0$`));
    expect(new Set(ids).size).toBe(1000);
  });

  it.each([
    [
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    ],
    ['root=1-5759E988-BD862E3FE1BE46A994272793;sampled=0', /^Root=1-5759e988-bd862e3fe1be46a994272793;Parent=[0-9a-f]{16};Sampled=0$/],
    ['Root=1-5759e988-bd862e3fe1be46a994272793', /^Root=1-5759e988-bd862e3fe1be46a994272793;Parent=[0-9a-f]{16};Sampled=0$/],
    ['Root=1-5759e988-bd862e3fe1be46a994272793;Parent=nothex;Sampled=yes', /^Root=1-5759e988-bd862e3fe1be46a994272793;Parent=[0-9a-f]{16};Sampled=0$/],
  ])('continues the caller’s header %s', (header, expected) => {
    const id = traceIdFromHeader(header, AT);
    if (typeof expected === 'string') expect(id).toBe(expected);
    else expect(id).toMatch(expected);
  });

  it.each([
    undefined,
    '',
    'Root=2-5759e988-bd862e3fe1be46a994272793',
    'Parent=53995c3f42cd8ad8',
    'Root=1-5759e988-short',
    `Root=1-5759e988-bd862e3fe1be46a994272793;${'x'.repeat(300)}`,
  ])('starts a new trace for a missing or malformed header (%s)', (header) => {
    const id = traceIdFromHeader(header, AT);
    expect(id).toMatch(TRACE_ID);
    expect(id).toContain(`Root=1-${Math.floor(AT / 1000).toString(16)}-`);
  });

  it('derives the same id for a stored event at every attempt, a different one per event', () => {
    const a = traceIdOfStoredEvent('0c5e4f3a-1b2c-4d5e-8f90-123456789abc', AT);
    expect(a).toMatch(TRACE_ID);
    expect(traceIdOfStoredEvent('0c5e4f3a-1b2c-4d5e-8f90-123456789abc', AT)).toBe(a);
    expect(traceIdOfStoredEvent('11111111-1b2c-4d5e-8f90-123456789abc', AT)).not.toBe(a);
  });
});
