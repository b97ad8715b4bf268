import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createRowMac, IntegrityError, macInput } from './integrity.js';

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
});
