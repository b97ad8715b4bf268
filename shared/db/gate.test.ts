// The connection gate alone: permits, the order and deadline of waiters, the stall report.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatabaseUnavailableError } from './errors.js';
import { createConnectionGate } from './gate.js';

const code = (c: string) => (err: unknown) => err instanceof DatabaseUnavailableError && err.code === c;

describe('createConnectionGate', () => {
  it('hands permits out without waiting while there are free ones', () => {
    const gate = createConnectionGate(2, 1_000);
    assert.equal(gate.tryAcquire(), true);
    assert.equal(gate.tryAcquire(), true);
    assert.equal(gate.tryAcquire(), false);
    assert.deepEqual({ ...gate.health(), stalledMs: 0 }, { size: 2, inUse: 2, waiting: 0, stalledMs: 0 });
    gate.release();
    assert.equal(gate.health().inUse, 1);
  });

  it('hands a released permit to the waiters in the order they came', async () => {
    const gate = createConnectionGate(1, 1_000);
    assert.equal(gate.tryAcquire(), true);
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) => gate.acquire().then(() => order.push(n)));
    assert.equal(gate.health().waiting, 3);
    for (let i = 0; i < 3; i++) {
      gate.release();
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(waiters);
    assert.deepEqual(order, [1, 2, 3]);
    assert.equal(gate.health().inUse, 1);
  });

  it('fails a waiter at the deadline with db_pool_timeout and takes it out of the queue', async () => {
    const gate = createConnectionGate(1, 20);
    gate.tryAcquire();
    await assert.rejects(gate.acquire(), code('db_pool_timeout'));
    assert.equal(gate.health().waiting, 0);
    // The permit released later is not handed to the waiter that gave up.
    gate.release();
    assert.equal(gate.health().inUse, 0);
  });

  it('releases the permit of work that fails', async () => {
    const gate = createConnectionGate(1, 1_000);
    await assert.rejects(gate.run(() => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(gate.health().inUse, 0);
  });

  it('reports a stall only while every permit is held, growing until one is handed back', async () => {
    const gate = createConnectionGate(1, 1_000);
    assert.equal(gate.health().stalledMs, 0);
    gate.tryAcquire();
    await new Promise((r) => setTimeout(r, 20));
    const stalled = gate.health().stalledMs;
    assert.ok(stalled > 0);
    const waiter = gate.acquire();
    gate.release();
    await waiter;
    assert.ok(gate.health().stalledMs < stalled);
    gate.release();
    assert.equal(gate.health().stalledMs, 0);
  });

  it('refuses the waiters and every later caller once closed', async () => {
    const gate = createConnectionGate(1, 60_000);
    gate.tryAcquire();
    const waiting = assert.rejects(gate.acquire(), code('db_closed'));
    gate.close();
    await waiting;
    await assert.rejects(gate.acquire(), code('db_closed'));
    assert.equal(gate.tryAcquire(), false);
  });
});
