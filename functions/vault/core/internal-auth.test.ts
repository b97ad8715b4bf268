import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createVerifier, signRequest, WINDOW_MS } from './internal-auth.js';

describe('internal channel authentication', () => {
  const key = randomBytes(32);
  const body = '{"mount":"secret/","context":"kv/1:a/v1"}';

  it('accepts a fresh signed request once and refuses its replay', () => {
    const verify = createVerifier(key);
    const h = signRequest(key, 'POST', '/internal/v1/dek/unwrap', body);
    assert.deepEqual(verify(h, 'POST', '/internal/v1/dek/unwrap', body), { ok: true });
    assert.deepEqual(verify(h, 'POST', '/internal/v1/dek/unwrap', body), { ok: false, reason: 'replayed' });
  });

  it('refuses a missing, malformed, stale or foreign signature, and any change to method, path or body', () => {
    const verify = createVerifier(key);
    const now = Date.now();
    const h = () => signRequest(key, 'POST', '/internal/v1/dek/unwrap', body, now);
    assert.equal(verify(undefined, 'POST', '/x', body).ok, false);
    assert.deepEqual(verify('garbage', 'POST', '/x', body), { ok: false, reason: 'malformed' });
    assert.deepEqual(verify(h(), 'POST', '/internal/v1/dek/unwrap', body, now + WINDOW_MS + 1), { ok: false, reason: 'stale' });
    assert.deepEqual(verify(signRequest(randomBytes(32), 'POST', '/internal/v1/dek/unwrap', body, now), 'POST', '/internal/v1/dek/unwrap', body, now), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(verify(h(), 'POST', '/internal/v1/dek/new', body, now), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(verify(h(), 'PUT', '/internal/v1/dek/unwrap', body, now), { ok: false, reason: 'bad_signature' });
    assert.deepEqual(verify(h(), 'POST', '/internal/v1/dek/unwrap', body.replace('a/v1', 'b/v1'), now), { ok: false, reason: 'bad_signature' });
  });
});
