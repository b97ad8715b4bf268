import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '#shared/config/index';
import { createClientAddressOf } from './client-address.js';

describe('createClientAddressOf (RFC 7239 §7.4: only hops our proxies appended are believed)', () => {
  const of = createClientAddressOf(['10.0.0.0/8', '127.0.0.1', 'fd00::/8']);

  it('takes the socket peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    assert.equal(of('203.0.113.9', '198.51.100.1'), '203.0.113.9');
    assert.equal(of('::ffff:203.0.113.9', '127.0.0.1'), '203.0.113.9');
    assert.equal(of('203.0.113.9', undefined), '203.0.113.9');
  });

  it('takes the last hop a trusted peer appended', () => {
    assert.equal(of('127.0.0.1', '198.51.100.7'), '198.51.100.7');
    assert.equal(of('::ffff:127.0.0.1', '::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(of('fd00::1', '2001:db8::5'), '2001:db8::5');
  });

  it('ignores the hops a client wrote in front of the ones the proxies appended', () => {
    assert.equal(of('127.0.0.1', '6.6.6.6, 198.51.100.7'), '198.51.100.7');
    // Proxy chain: the client went through the ingress (10.1.2.3), then a sidecar.
    assert.equal(of('127.0.0.1', '6.6.6.6, 198.51.100.7, 10.1.2.3'), '198.51.100.7');
  });

  it('answers the same after it has seen more peers than it remembers the trust of', () => {
    const fresh = createClientAddressOf(['10.0.0.0/8', '127.0.0.1']);
    for (let i = 0; i < 10_000; i++) {
      const peer = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      assert.equal(fresh(peer, '198.51.100.7'), '198.51.100.7');
      const outsider = `203.0.${(i >> 8) & 255}.${i & 255}`;
      assert.equal(fresh(outsider, '198.51.100.7'), outsider);
    }
    assert.equal(fresh('127.0.0.1', '6.6.6.6, 10.9.9.9'), '6.6.6.6');
    assert.equal(fresh('192.0.2.1', '10.9.9.9'), '192.0.2.1');
  });

  it('stops at a hop that is no address, keeping the last proxy known', () => {
    assert.equal(of('127.0.0.1', 'garbage'), '127.0.0.1');
    assert.equal(of('127.0.0.1', '198.51.100.7, nonsense, 10.0.0.9'), '10.0.0.9');
  });

  it('gives the leftmost hop when every hop is a trusted proxy', () => {
    assert.equal(of('127.0.0.1', '10.0.0.4, 10.0.0.5'), '10.0.0.4');
  });

  it('has no address without a peer', () => {
    assert.equal(of(undefined, '198.51.100.7'), undefined);
  });
});

describe('ZENO_TRUSTED_PROXIES', () => {
  it('defaults to loopback', () => {
    const of = createClientAddressOf(loadConfig({}).trustedProxies);
    assert.equal(of('127.0.0.1', '198.51.100.7'), '198.51.100.7');
    assert.equal(of('::1', '198.51.100.7'), '198.51.100.7');
    assert.equal(of('192.0.2.1', '198.51.100.7'), '192.0.2.1');
  });

  it('replaces the default with the addresses and ranges given', () => {
    const config = loadConfig({ ZENO_TRUSTED_PROXIES: ' 10.0.0.0/8 , 2001:db8::/32,192.0.2.1' });
    assert.deepEqual(config.trustedProxies, ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1']);
    const of = createClientAddressOf(config.trustedProxies);
    assert.equal(of('127.0.0.1', '198.51.100.7'), '127.0.0.1');
    assert.equal(of('10.9.9.9', '198.51.100.7'), '198.51.100.7');
  });

  it('refuses what is not an address or a range', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/8/1', '::1/129', '10.0.0.0/x']) {
      assert.throws(() => loadConfig({ ZENO_TRUSTED_PROXIES: bad }), (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.startsWith('ZENO_TRUSTED_PROXIES')), bad);
    }
  });
});
