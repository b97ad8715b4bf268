import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '#shared/log/index';
import { createAckBatcher } from './inflight.js';

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
