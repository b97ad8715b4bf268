// The Argon2id worker pool: right and wrong passwords, lazy start, the bounded queue, and an event
// loop that stays responsive under a burst of hashes (compared with hashing on the main thread).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { argon2Verify, argon2id } from 'hash-wasm';
import { createArgon2Pool, PasswordHashingBusyError } from './argon2-pool.js';
import { ARGON2_PARAMS, hashPassword, verifyPassword } from './passwords.js';

const BURST = 8;

/** The event loop's worst delay (ns) while `work` runs. */
async function worstLoopDelay(work: () => Promise<unknown>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  try {
    // The monitor measures from its previous tick: let it tick before the work starts.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await work();
    // A stall is recorded when the monitor's timer finally runs: let it run once more.
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    h.disable();
  }
  return h.max;
}

describe('argon2id worker pool', () => {
  const pool = createArgon2Pool({ workers: 1, maxQueued: 2 });
  after(() => pool.close());

  it('starts no worker before the first job', async () => {
    assert.equal(pool.started, 0);
    await pool.hash('first', randomBytes(16), ARGON2_PARAMS);
    assert.equal(pool.started, 1);
  });

  it('verifies right and wrong passwords, and agrees with hash-wasm on the main thread', async () => {
    const hash = await hashPassword('correct horse battery');
    assert.equal(await verifyPassword(hash, 'correct horse battery'), true);
    assert.equal(await verifyPassword(hash, 'correct horse batterY'), false);
    assert.equal(await argon2Verify({ hash, password: 'correct horse battery' }), true);
    const mainThread = await argon2id({ password: 'staple', salt: randomBytes(16), ...ARGON2_PARAMS, hashLength: 32, outputType: 'encoded' });
    assert.equal(await verifyPassword(mainThread, 'staple'), true);
    assert.equal(await verifyPassword(mainThread, 'stapler'), false);
  });

  it('answers false for a malformed hash and keeps working', async () => {
    assert.equal(await verifyPassword('$argon2id$v=19$m=19456,t=2,p=1$garbage', 'pw'), false);
    assert.equal(await verifyPassword('not a hash at all', 'pw'), false);
    assert.equal(await verifyPassword(await hashPassword('still fine'), 'still fine'), true);
  });

  it('refuses a job beyond the queue with a 503 and finishes the accepted ones', async () => {
    const hash = await pool.hash('queued', randomBytes(16), ARGON2_PARAMS);
    const accepted = [pool.verify(hash, 'queued'), pool.verify(hash, 'nope'), pool.verify(hash, 'queued')];
    await assert.rejects(pool.verify(hash, 'queued'), (err: unknown) => {
      assert.ok(err instanceof PasswordHashingBusyError);
      assert.equal(err.status, 503);
      assert.equal(err.code, 'password_hashing_busy');
      assert.equal(err.headers?.['retry-after'], '1');
      return true;
    });
    assert.deepEqual(await Promise.all(accepted), [true, false, true]);
    // The queue is free again.
    assert.equal(await pool.verify(hash, 'queued'), true);
  });

  it('fails a job its worker cannot do, and the worker carries on', async () => {
    const dying = createArgon2Pool({ workers: 1, maxQueued: 4 });
    try {
      // 4 GiB of memory is more than a worker can take: its job fails, the next one works.
      await assert.rejects(dying.hash('too big', randomBytes(16), { memorySize: 4 * 1024 * 1024, iterations: 1, parallelism: 1 }));
      assert.match(await dying.hash('after', randomBytes(16), ARGON2_PARAMS), /^\$argon2id\$/);
      assert.equal(dying.started, 1);
    } finally {
      await dying.close();
    }
  });

  it('lets a full pool refuse through verifyPassword, never answering false for a refused check', async () => {
    const hash = await hashPassword('the right one');
    // More at once than the process's pool runs and queues: the rest are refused synchronously.
    const settled = await Promise.allSettled(Array.from({ length: 40 }, () => verifyPassword(hash, 'the right one')));
    const refused = settled.filter((r) => r.status === 'rejected');
    assert.ok(refused.length > 0);
    for (const r of refused) assert.ok(r.reason instanceof PasswordHashingBusyError);
    for (const r of settled) if (r.status === 'fulfilled') assert.equal(r.value, true);
  });

  it('rejects jobs after close', async () => {
    const closing = createArgon2Pool({ workers: 1, maxQueued: 1 });
    await closing.close();
    await assert.rejects(closing.verify('x', 'y'), TypeError);
  });

  it('keeps the event loop responsive during a burst, unlike hashing on the main thread', async (t) => {
    const hash = await hashPassword('burst password');
    // Baseline: the same burst run by hash-wasm on the main thread, as before the pool.
    const baseline = await worstLoopDelay(() => Promise.all(Array.from({ length: BURST }, (_, i) => argon2Verify({ hash, password: i % 2 ? 'burst password' : 'wrong' }))));
    const results: boolean[] = [];
    const pooled = await worstLoopDelay(async () => {
      results.push(...(await Promise.all(Array.from({ length: BURST }, (_, i) => verifyPassword(hash, i % 2 ? 'burst password' : 'wrong')))));
    });
    assert.deepEqual(results, Array.from({ length: BURST }, (_, i) => i % 2 === 1));
    t.diagnostic(`worst event-loop delay over ${BURST} verifications: main thread ${(baseline / 1e6).toFixed(1)} ms, pool ${(pooled / 1e6).toFixed(1)} ms`);
    // On the main thread the loop stalls for at least one whole hash; through the pool it only
    // posts messages.
    assert.ok(pooled * 4 < baseline, `worst loop delay: pooled ${(pooled / 1e6).toFixed(1)} ms, main thread ${(baseline / 1e6).toFixed(1)} ms`);
  });
});
