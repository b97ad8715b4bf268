import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '#shared/log/index';
import { createAckBatcher, createInflight } from './inflight.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ack batcher', () => {
  it('hands queued acknowledgements to a claim, which then writes no separate delete', async () => {
    const writes: string[][] = [];
    const acks = createAckBatcher(async (seqs) => void writes.push(seqs), silentLogger, { delayMs: 5 });
    acks.ack('1');
    acks.ack('2');
    assert.deepEqual(acks.take(), ['1', '2']);
    assert.deepEqual(acks.take(), []);
    await tick(20);
    assert.deepEqual(writes, []);
  });

  it('deletes on its own once no claim took the acknowledgements within the delay', async () => {
    const writes: string[][] = [];
    const acks = createAckBatcher(async (seqs) => void writes.push(seqs), silentLogger, { delayMs: 5 });
    acks.ack('1');
    acks.ack('2');
    await tick(30);
    assert.deepEqual(writes, [['1', '2']]);
  });

  it('writes at once when the batch is full, and flush writes what is left', async () => {
    const writes: string[][] = [];
    const acks = createAckBatcher(async (seqs) => void writes.push(seqs), silentLogger, { delayMs: 60_000, maxBatch: 2 });
    acks.ack('1');
    acks.ack('2');
    acks.ack('3');
    assert.deepEqual(writes, [['1', '2']]);
    await acks.flush();
    assert.deepEqual(writes, [['1', '2'], ['3']]);
  });

  it('logs a failed delete and keeps going (a lost delete only means a redelivery)', async () => {
    let calls = 0;
    const acks = createAckBatcher(async () => {
      calls++;
      throw new Error('database gone');
    }, silentLogger);
    acks.ack('1');
    await acks.flush();
    acks.ack('2');
    await acks.flush();
    assert.equal(calls, 2);
  });
});

describe('in-flight cap', () => {
  it('never reserves a negative or empty claim, nor more than the cap, with two lanes claiming at once', async () => {
    const limit = 5;
    const inflight = createInflight(limit, silentLogger);
    const sizes: number[] = [];
    let running = 0;
    let peak = 0;
    let done = 0;
    // Each lane reserves room, then "claims" (an await, as the claim statement is) fewer rows
    // than it reserved now and then, runs them, and gives back the rest.
    const lane = async (seed: number) => {
      for (let cycle = 0; cycle < 200; cycle++) {
        const room = await inflight.reserve(200);
        sizes.push(room.size);
        assert.ok(inflight.used() <= limit, `used ${inflight.used()} of ${limit}`);
        await tick(0);
        const claimed = (cycle + seed) % 3 === 0 ? Math.max(0, room.size - 1) : room.size;
        for (let i = 0; i < claimed; i++) {
          room.run(async () => {
            running++;
            peak = Math.max(peak, running);
            await tick((cycle + i) % 2);
            running--;
            done++;
          });
        }
        room.release();
      }
    };
    await Promise.all([lane(0), lane(1)]);
    await inflight.idle();
    assert.ok(Math.min(...sizes) >= 1, `smallest reservation ${Math.min(...sizes)}`);
    assert.ok(peak <= limit, `peak ${peak} in flight with a cap of ${limit}`);
    assert.ok(done > 0);
    assert.equal(inflight.used(), 0);
  });

  it('tryReserve gives 0 when full, and release hands unused room to a waiting lane', async () => {
    const inflight = createInflight(2, silentLogger);
    const a = inflight.tryReserve(5);
    assert.equal(a.size, 2);
    assert.equal(inflight.tryReserve(1).size, 0);
    let got: number | undefined;
    const waiting = inflight.reserve(10).then((r) => {
      got = r.size;
      r.release();
    });
    await tick(5);
    assert.equal(got, undefined, 'a lane waits while the cap is reserved');
    a.release();
    await waiting;
    assert.equal(got, 2);
    assert.throws(() => inflight.tryReserve(0).run(async () => {}), TypeError);
  });
});
