import { inTurn, type Turns } from '../../src/util/in-turn';

describe('inTurn', () => {
  it('runs one pass at a time, and one more after it however many calls came meanwhile', async () => {
    const turns: Turns = { reading: false, again: false };
    let passes = 0;
    let release!: () => void;
    const first = inTurn(turns, async () => {
      passes++;
      if (passes === 1) await new Promise<void>((resolve) => (release = resolve));
      return true;
    });
    await Promise.all([inTurn(turns, async () => true), inTurn(turns, async () => true)]); // during the first pass
    expect(passes).toBe(1);
    release();
    await first;
    expect(passes).toBe(2);
    expect(turns).toEqual({ reading: false, again: false });
  });

  it('stops when a pass says so, and is free again after a pass that throws', async () => {
    const turns: Turns = { reading: false, again: false };
    let passes = 0;
    await inTurn(turns, async () => {
      passes++;
      turns.again = true; // more is due, but the pass says stop
      return false;
    });
    expect(passes).toBe(1);
    await expect(inTurn(turns, () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(turns.reading).toBe(false);
    await inTurn(turns, async () => ++passes > 0 && false);
    expect(passes).toBe(2);
  });
});
