import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '#shared/log/index';
import { startWorkLoop } from './work-loop.js';

describe('startWorkLoop', () => {
  it('after a hint, keeps polling until work committed later becomes visible', async () => {
    let visible = 0;
    let delivered = 0;
    const loop = startWorkLoop({
      name: 'test',
      log: silentLogger,
      idleMs: 600_000,
      cycle: async () => {
        const n = visible;
        visible = 0;
        delivered += n;
        return { claimed: n, delivered: n, more: false };
      },
    });
    await new Promise((r) => setTimeout(r, 20)); // let the start-up sweep pass
    loop.hint();
    // The "transaction" commits well after the hint, as on a slow disk.
    await new Promise((r) => setTimeout(r, 300));
    visible = 1;
    for (let i = 0; i < 200 && delivered === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(delivered, 1, 'the polling after the hint found the late commit, long before the idle timer');
    await loop.stop();
  });

  it('stops polling once the hint window has passed', async () => {
    let cycles = 0;
    const loop = startWorkLoop({
      name: 'test',
      log: silentLogger,
      idleMs: 600_000,
      hintWindowMs: 100,
      cycle: async () => {
        cycles++;
        return { claimed: 0, delivered: 0, more: false };
      },
    });
    loop.hint();
    await new Promise((r) => setTimeout(r, 400));
    const after = cycles;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(cycles, after);
    await loop.stop();
  });

  it('drain runs cycles until nothing is claimed and reports what was delivered', async () => {
    let backlog = 5;
    const l2 = startWorkLoop({ name: 't2', log: silentLogger, idleMs: 600_000, lanes: 1, cycle: async () => {
      const n = Math.min(2, backlog);
      backlog -= n;
      return { claimed: n, delivered: n, more: n === 2 };
    } });
    const total = await l2.drain();
    assert.equal(backlog, 0);
    assert.equal(total, 5);
    await l2.stop();
  });
});
