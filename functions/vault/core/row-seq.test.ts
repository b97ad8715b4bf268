import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createRowMac, IntegrityError } from './integrity.js';
import { seqRows } from './row-seq.js';

describe('seqRows: the rollback bound of one kind of row', () => {
  type Role = { name: string; policies: string[]; seq: number; mac: Uint8Array | null };
  const rows = seqRows<Role>('roles', (r) => r.name, (r) => [r.name, r.policies]);
  const signed = (mac: ReturnType<typeof createRowMac>, r: Omit<Role, 'mac'>): Role => ({ ...r, mac: rows.sign(mac, { ...r, mac: null }) });

  it('serves its own row, and refuses a changed field, a changed seq or a row under another name', () => {
    const failures: string[] = [];
    const mac = createRowMac(randomBytes(32), (t) => failures.push(t));
    const row = signed(mac, { name: 'a', policies: ['reader'], seq: 5 });
    assert.equal(rows.verify(mac, row, mac.clock()), row);
    for (const bad of [{ ...row, policies: ['root'] }, { ...row, seq: 9 }, { ...row, name: 'b' }, { ...row, mac: null }]) {
      assert.throws(() => rows.verify(mac, bad, mac.clock()), IntegrityError);
    }
    assert.deepEqual(failures, ['roles', 'roles', 'roles', 'roles']);
  });

  it('refuses an earlier copy once a later one was read or written, and a deleted row put back', () => {
    const mac = createRowMac(randomBytes(32));
    const first = signed(mac, { name: 'a', policies: ['admin'], seq: 1 });
    const second = signed(mac, { name: 'a', policies: ['reader'], seq: 2 });
    rows.verify(mac, first, mac.clock());
    const since = mac.clock();
    rows.wrote(mac, second, since);
    assert.throws(() => rows.verify(mac, first, mac.clock()), IntegrityError);
    rows.gone(mac, 'a', 2);
    assert.throws(() => rows.verify(mac, second, mac.clock()), IntegrityError);
    assert.ok(rows.verify(mac, signed(mac, { name: 'a', policies: ['reader'], seq: 3 }), mac.clock()), 'written again above the deleted seq');
  });

  it('accepts an earlier copy read by a query that began before the later one was learnt', () => {
    const mac = createRowMac(randomBytes(32));
    const since = mac.clock();
    rows.wrote(mac, signed(mac, { name: 'a', policies: ['reader'], seq: 2 }), mac.clock());
    assert.ok(rows.verify(mac, signed(mac, { name: 'a', policies: ['admin'], seq: 1 }), since));
  });
});
