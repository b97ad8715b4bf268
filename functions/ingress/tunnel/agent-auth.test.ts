import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createAgentCheck, hostnameAllowed, parseHostnames } from './agent-auth.js';
import { TunnelRefusal } from './refusal.js';
import type { Issuer } from './tunnel.test-support.js';
import { startIssuer } from './tunnel.test-support.js';

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof TunnelRefusal, String(err));
  return [err.status, err.code];
};

describe('the edge\'s check of an agent (RFC 9068 §4, client credentials)', () => {
  let issuer: Issuer;
  before(async () => {
    issuer = await startIssuer();
  });
  after(() => issuer.close());

  const check = () => createAgentCheck({ issuer: issuer.url, clients: { 'site-a': ['app.example.com', '*.site-a.example.com'] } });

  it('accepts a client credentials token of a known client for hostnames it may serve', async () => {
    const id = await check()(`Bearer ${await issuer.sign('site-a')}`, 'App.Example.com, x.site-a.example.com, *.eu.site-a.example.com');
    assert.deepEqual(id, { clientId: 'site-a', hostnames: ['app.example.com', 'x.site-a.example.com', '*.eu.site-a.example.com'] });
  });

  it('refuses a missing, forged, expired, mistyped or foreign token with 401 invalid_token', async () => {
    const other = await startIssuer();
    try {
      assert.deepEqual(await refusal(check()(undefined, 'app.example.com')), [401, 'invalid_token']);
      assert.deepEqual(await refusal(check()('Basic abc', 'app.example.com')), [401, 'invalid_token']);
      // Signed by another key, claiming our issuer.
      assert.deepEqual(await refusal(check()(`Bearer ${await other.sign('site-a', { issuer: issuer.url })}`, 'app.example.com')), [401, 'invalid_token']);
      assert.deepEqual(await refusal(check()(`Bearer ${await issuer.sign('site-a', { expiresIn: '-1m' })}`, 'app.example.com')), [401, 'invalid_token']);
      assert.deepEqual(await refusal(check()(`Bearer ${await issuer.sign('site-a', { typ: 'JWT' })}`, 'app.example.com')), [401, 'invalid_token']);
      assert.deepEqual(await refusal(check()(`Bearer ${await issuer.sign('site-a', { issuer: 'https://elsewhere.test' })}`, 'app.example.com')), [401, 'invalid_token']);
      // A user's token (subject other than the client) is not a site's credential.
      assert.deepEqual(await refusal(check()(`Bearer ${await issuer.sign('site-a', { sub: 'alice' })}`, 'app.example.com')), [401, 'invalid_token']);
    } finally {
      await other.close();
    }
  });

  it('refuses a hostname the client may not serve, and any hostname of an unknown client, with 403', async () => {
    const token = await issuer.sign('site-a');
    assert.deepEqual(await refusal(check()(`Bearer ${token}`, 'app.example.com, evil.example.com')), [403, 'hostname_not_allowed']);
    assert.deepEqual(await refusal(check()(`Bearer ${token}`, '*.example.com')), [403, 'hostname_not_allowed']);
    assert.deepEqual(await refusal(check()(`Bearer ${await issuer.sign('site-z')}`, 'app.example.com')), [403, 'hostname_not_allowed']);
  });

  it('refuses no hostname or a malformed one with 400', async () => {
    const token = await issuer.sign('site-a');
    assert.deepEqual(await refusal(check()(`Bearer ${token}`, undefined)), [400, 'invalid_request']);
    assert.deepEqual(await refusal(check()(`Bearer ${token}`, 'app.example.com, bad_host!')), [400, 'invalid_request']);
  });

  it('answers 503 issuer_unavailable when the keys cannot be had', async () => {
    const down = createAgentCheck({ issuer: issuer.url, jwksUrl: 'http://127.0.0.1:1/jwks', clients: { 'site-a': ['app.example.com'] } });
    assert.deepEqual(await refusal(down(`Bearer ${await issuer.sign('site-a')}`, 'app.example.com')), [503, 'issuer_unavailable']);
  });

  it('covers names and narrower wildcards under an allowed wildcard, never the bare domain', () => {
    assert.equal(hostnameAllowed(['*.a.com'], 'x.a.com'), true);
    assert.equal(hostnameAllowed(['*.a.com'], 'x.y.a.com'), true);
    assert.equal(hostnameAllowed(['*.a.com'], '*.y.a.com'), true);
    assert.equal(hostnameAllowed(['*.a.com'], '*.a.com'), true);
    assert.equal(hostnameAllowed(['*.a.com'], 'a.com'), false);
    assert.equal(hostnameAllowed(['*.a.com'], 'xa.com'), false);
    assert.equal(hostnameAllowed(['x.a.com'], '*.a.com'), false);
    assert.deepEqual(parseHostnames(' A.com ,a.com,,b.com'), ['a.com', 'b.com']);
  });
});
