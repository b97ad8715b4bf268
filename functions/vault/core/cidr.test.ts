import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressAllowed, cidrsWithin, parseCidrList } from './cidr.js';
import { VaultError } from './errors.js';

describe('CIDR lists of the auth methods', () => {
  it('parses a JSON list or a comma-separated string and normalises single addresses', () => {
    assert.deepEqual(parseCidrList('10.0.0.0/8, 192.168.1.7', 'f'), ['10.0.0.0/8', '192.168.1.7/32']);
    assert.deepEqual(parseCidrList(['::1', 'fd00::/8'], 'f'), ['::1/128', 'fd00::/8']);
    assert.equal(parseCidrList(undefined, 'f'), undefined);
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'host.example', '10.0.0.0/8/1', '::1/129', '10.0.0.0/-1', ['10.0.0.1', 7]]) {
      assert.throws(() => parseCidrList(bad, 'f'), (e: unknown) => e instanceof VaultError && e.status === 400, JSON.stringify(bad));
    }
  });

  it('matches addresses, IPv4-mapped IPv6 as IPv4, and refuses an unknown address when bound', () => {
    const list = ['10.0.0.0/8', '2001:db8::/32'];
    assert.equal(addressAllowed('10.200.1.1', list), true);
    assert.equal(addressAllowed('::ffff:10.1.2.3', list), true);
    assert.equal(addressAllowed('11.0.0.1', list), false);
    assert.equal(addressAllowed('2001:db8::5', list), true);
    assert.equal(addressAllowed('2001:db9::5', list), false);
    assert.equal(addressAllowed(undefined, list), false);
    assert.equal(addressAllowed('not-an-ip', list), false);
    assert.equal(addressAllowed(undefined, []), true);
  });

  it('tells whether blocks lie within others', () => {
    assert.equal(cidrsWithin(['10.1.0.0/16', '10.2.3.4/32'], ['10.0.0.0/8']), true);
    assert.equal(cidrsWithin(['10.0.0.0/7'], ['10.0.0.0/8']), false);
    assert.equal(cidrsWithin(['11.0.0.0/16'], ['10.0.0.0/8']), false);
    assert.equal(cidrsWithin(['::1/128'], ['10.0.0.0/8']), false);
    assert.equal(cidrsWithin(['11.0.0.0/16'], []), true);
  });
});
