import { limitHeapGrowth } from './heap-growth';

describe('limitHeapGrowth', () => {
  it('sets the growth factor when the process was given none', () => {
    expect(limitHeapGrowth(['--enable-source-maps'], '--max-old-space-size=512')).toBe(true);
  });

  it("leaves an operator's own --heap-growing-percent alone, on the command line or in NODE_OPTIONS", () => {
    expect(limitHeapGrowth(['--heap-growing-percent=200'], '')).toBe(false);
    expect(limitHeapGrowth([], '--inspect --heap-growing-percent=20')).toBe(false);
    expect(limitHeapGrowth(['--heap-growing-percent', '20'], '')).toBe(false);
  });

  it('does not mistake a longer flag for it', () => {
    expect(limitHeapGrowth(['--heap-growing-percentage=5'], '')).toBe(true);
  });
});
