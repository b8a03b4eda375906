import { SlotPool } from './slot-pool';

describe('SlotPool', () => {
  it('never hands out more slots than it has', async () => {
    const pool = new SlotPool(2);
    await pool.acquire('a');
    await pool.acquire('a');
    let third = false;
    void pool.acquire('a').then(() => (third = true));
    await Promise.resolve();
    expect(third).toBe(false);
    expect(pool.inUse).toBe(2);
    pool.release();
    await Promise.resolve();
    expect(third).toBe(true);
    expect(pool.inUse).toBe(2);
  });

  it('serves waiting functions in turn, so a backlog cannot starve a lone event', async () => {
    const pool = new SlotPool(1);
    await pool.acquire('burst');
    const order: string[] = [];
    for (let i = 0; i < 5; i += 1) void pool.acquire('burst').then(() => order.push('burst'));
    void pool.acquire('lone').then(() => order.push('lone'));
    for (let i = 0; i < 3; i += 1) {
      pool.release();
      await Promise.resolve();
    }
    expect(order).toEqual(['burst', 'lone', 'burst']);
    expect(pool.hasWaitersOtherThan('lone')).toBe(true);
    expect(pool.hasWaitersOtherThan('burst')).toBe(false);
  });
});
