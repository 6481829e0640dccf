import { describe, expect, it } from 'vitest';
import { coalesced } from '../src/pure/coalesce.js';

/** A pass that reads `state` when it starts and waits until released. */
function scripted() {
  const state = { value: 0 };
  const seen: number[] = [];
  const releases: Array<() => void> = [];
  const pass = () =>
    new Promise<number>((resolve) => {
      const read = state.value;
      seen.push(read);
      releases.push(() => resolve(read));
    });
  const releaseAll = async () => {
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((r) => setTimeout(r, 0));
    }
  };
  return { state, seen, pass, releaseAll };
}

describe('coalesced passes', () => {
  it('run one at a time, and a change during a pass gets a pass that reads it', async () => {
    const s = scripted();
    const run = coalesced(s.pass);
    const first = run();
    s.state.value = 1; // changed after the first pass read the state
    const second = run();
    const third = run(); // shares the follow-up pass
    expect(s.seen).toEqual([0]); // never two at once
    await s.releaseAll();
    expect(await first).toBe(0);
    expect(await second).toBe(1);
    expect(await third).toBe(1);
    expect(s.seen).toEqual([0, 1]);
  });

  it('start at once when idle, and again after a failed pass', async () => {
    let calls = 0;
    const run = coalesced(async () => {
      calls += 1;
      if (calls === 1) throw new Error('API server unreachable');
      return calls;
    });
    await expect(run()).rejects.toThrow('unreachable');
    expect(await run()).toBe(2);
  });
});
