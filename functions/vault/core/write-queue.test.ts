import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VaultError } from './errors.js';
import { createWriteQueue } from './write-queue.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('createWriteQueue', () => {
  it('runs the writers of one key one at a time, in arrival order, handing each the result before it', async () => {
    const q = createWriteQueue<number>();
    const log: string[] = [];
    let running = 0;
    const writer = (n: number) =>
      q.run('k', async ({ waited, previous }) => {
        running++;
        assert.equal(running, 1, 'one writer at a time');
        log.push(`${n}:${waited}:${previous}`);
        await tick();
        running--;
        return n * 10;
      });
    assert.deepEqual(await Promise.all([writer(1), writer(2), writer(3)]), [10, 20, 30]);
    assert.deepEqual(log, ['1:false:undefined', '2:true:10', '3:true:20']);
    assert.equal(q.depth('k'), 0);
  });

  it('lets other keys run meanwhile', async () => {
    const q = createWriteQueue<string>();
    let release!: () => void;
    const held = q.run('a', () => new Promise<string>((r) => (release = () => r('a'))));
    assert.equal(await q.run('b', async ({ waited }) => (waited ? 'waited' : 'b')), 'b');
    release();
    assert.equal(await held, 'a');
  });

  it('hands no result on after a writer failed, and goes on', async () => {
    const q = createWriteQueue<number>();
    const failed = q.run('k', async () => {
      await tick();
      throw new Error('boom');
    });
    const next = q.run('k', async ({ waited, previous }) => (waited && previous === undefined ? 1 : 0));
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 1);
  });

  it('refuses a writer beyond the limit of waiting writers with a retryable 503', async () => {
    const q = createWriteQueue<number>(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const queued = [0, 1, 2].map((n) => q.run('k', async () => (await gate, n)));
    await assert.rejects(q.run('k', async () => 3), (e: unknown) => e instanceof VaultError && e.status === 503 && e.headers?.['retry-after'] === '1');
    release();
    assert.deepEqual(await Promise.all(queued), [0, 1, 2]);
  });
});
