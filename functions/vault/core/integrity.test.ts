import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createRowMac, createRowSeqMemory, createSeqMemory, IntegrityError, macInput, withSeq } from './integrity.js';

describe('row integrity MAC', () => {
  const key = randomBytes(32);

  it('verifies the row it signed and refuses any change to a field, the table or the field order', () => {
    const failures: string[] = [];
    const mac = createRowMac(key, (t) => failures.push(t));
    const fields = ['hvs-hash', ['default', 'ops'], 3600, true, null, new Date(1_700_000_000_123), { b: 1, a: 'x' }];
    const sig = mac.sign('tokens', fields);
    mac.check('tokens', fields, sig);
    const variants: [string, unknown[]][] = [
      ['tokens', ['hvs-hash', ['root'], 3600, true, null, new Date(1_700_000_000_123), { b: 1, a: 'x' }]],
      ['tokens', ['hvs-hash', ['default', 'ops'], 3601, true, null, new Date(1_700_000_000_123), { b: 1, a: 'x' }]],
      ['tokens', ['hvs-hash', ['default', 'ops'], 3600, false, null, new Date(1_700_000_000_123), { b: 1, a: 'x' }]],
      ['tokens', ['hvs-hash', ['default', 'ops'], 3600, true, '', new Date(1_700_000_000_123), { b: 1, a: 'x' }]],
      ['tokens', ['hvs-hash', ['default', 'ops'], 3600, true, null, new Date(1_700_000_000_124), { b: 1, a: 'x' }]],
      ['tokens', ['hvs-hash', ['default', 'ops'], 3600, true, null, new Date(1_700_000_000_123), { b: 2, a: 'x' }]],
      ['policies', fields],
    ];
    for (const [table, f] of variants) {
      assert.throws(() => mac.check(table, f as never, sig), IntegrityError);
    }
    assert.equal(failures.length, variants.length);
    assert.throws(() => mac.check('tokens', fields, null), (e: unknown) => e instanceof IntegrityError && e.status === 403 && e.messages[0] === 'integrity check failed');
    assert.throws(() => mac.check('tokens', fields, sig.subarray(1)), IntegrityError);
  });

  it('encodes without ambiguity: split points, arrays and types never collide', () => {
    const pairs: [unknown[], unknown[]][] = [
      [['ab', 'c'], ['a', 'bc']],
      [[['a', 'b']], [['ab']]],
      [[['a,b']], [['a', 'b']]],
      [['1'], [1]],
      [['true'], [true]],
      [[null], ['']],
      [[Buffer.from('x')], ['x']],
      [[[]], [null]],
    ];
    for (const [a, b] of pairs) assert.notDeepEqual(macInput('t', a as never), macInput('t', b as never), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  });

  it('treats a jsonb value the same whatever order its keys come back in', () => {
    const mac = createRowMac(key);
    const sig = mac.sign('kubernetes_roles', ['r', { audience: 'vault', bound: { b: ['x'], a: 1 } }]);
    mac.check('kubernetes_roles', ['r', { bound: { a: 1, b: ['x'] }, audience: 'vault' }], sig);
  });

  it('refuses a MAC made under another key', () => {
    const other = createRowMac(randomBytes(32));
    assert.throws(() => createRowMac(key).check('mounts', ['secret/'], other.sign('mounts', ['secret/'])), IntegrityError);
  });

  it('refuses numbers it cannot encode exactly', () => {
    assert.throws(() => createRowMac(key).sign('t', [1.5]), TypeError);
  });

  it('counts a row refused for another reason (a rollback) like a MAC failure', () => {
    const seen: string[] = [];
    const mac = createRowMac(key, (t) => seen.push(t), 7);
    assert.equal(mac.epoch, 7);
    assert.throws(() => mac.refuse('kv_metadata'), IntegrityError);
    assert.deepEqual(seen, ['kv_metadata']);
  });
});

describe('seq memory', () => {
  it('refuses a seq below the highest seen for its key, and remembers only the highest', () => {
    const m = createSeqMemory();
    assert.equal(m.observe('a', 5), true);
    assert.equal(m.observe('a', 5), true, 'the same state again is fine');
    assert.equal(m.observe('a', 4), false, 'an older state is a rollback');
    assert.equal(m.observe('b', 1), true, 'keys are independent');
    assert.equal(m.observe('a', 9), true);
    assert.equal(m.observe('a', 5), false);
  });

  it('forgets the least recently seen keys past its limit', () => {
    const m = createSeqMemory(2);
    m.observe('a', 5);
    m.observe('b', 5);
    m.observe('a', 6);
    m.observe('c', 5);
    assert.equal(m.size, 2);
    assert.equal(m.observe('a', 1), false, 'a was seen since, and is remembered');
    assert.equal(m.observe('b', 1), true, 'b was the least recently seen, and is forgotten');
  });
});

describe('row seq bound (RowMac.observe / gone)', () => {
  const key = Buffer.alloc(32, 9);

  it('refuses a row below the seq seen for it, and counts it', () => {
    const failed: string[] = [];
    const mac = createRowMac(key, (t) => failed.push(t));
    mac.observe('policies', 'p', 10);
    mac.observe('policies', 'p', 10);
    mac.observe('policies', 'q', 3, mac.clock());
    assert.throws(() => mac.observe('policies', 'p', 9), IntegrityError);
    assert.deepEqual(failed, ['policies']);
    mac.observe('tokens', 'p', 1);
  });

  it('accepts a lower seq read by a query that began before the higher one was learnt', () => {
    const mac = createRowMac(key);
    mac.observe('tokens', 'a', 4);
    const since = mac.clock();
    mac.observe('tokens', 'a', 5);
    mac.observe('tokens', 'a', 4, since);
    assert.throws(() => mac.observe('tokens', 'a', 4, mac.clock()), IntegrityError);
  });

  it('refuses a row put back after it was seen deleted, and one above it written again', () => {
    const mac = createRowMac(key);
    mac.gone('policies', 'p', 7);
    assert.throws(() => mac.observe('policies', 'p', 7, mac.clock()), IntegrityError);
    mac.observe('policies', 'p', 8);
    mac.gone('tokens', 'acc', Infinity);
    assert.throws(() => mac.observe('tokens', 'acc', 1_000_000), IntegrityError);
  });

  it('shares one memory across the RowMacs of a process', () => {
    const seen = createRowSeqMemory();
    createRowMac(key, undefined, 1, seen).observe('token_roles', 'r', 3);
    assert.throws(() => createRowMac(key, undefined, 2, seen).observe('token_roles', 'r', 2), IntegrityError);
  });

  it('covers the seq in the MAC only once a row has one', () => {
    assert.deepEqual(withSeq(['a', 1], 0), ['a', 1]);
    assert.deepEqual(withSeq(['a', 1], 5), ['a', 1, 5]);
  });
});
