import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createDpopNonces } from './dpop-nonces.js';

describe('DPoP server nonces (RFC 9449 §8)', () => {
  const key = randomBytes(32);
  let clock = 1_700_000_000_000;
  const nonces = createDpopNonces(key, () => clock);

  it('accepts a nonce in its own time step and the next, not later', () => {
    const issued = nonces.current('t1');
    assert.equal(nonces.isValid('t1', issued), true);
    clock += 300_000;
    assert.equal(nonces.isValid('t1', issued), true);
    assert.notEqual(nonces.current('t1'), issued);
    clock += 300_000;
    assert.equal(nonces.isValid('t1', issued), false);
  });

  it('refuses a nonce of another tenant, of another master key, and malformed ones', () => {
    const issued = nonces.current('t1');
    assert.equal(nonces.isValid('t2', issued), false);
    assert.equal(createDpopNonces(randomBytes(32), () => clock).isValid('t1', issued), false);
    for (const bad of ['', 'x', `${issued}x`, issued.replace('.', ''), `ZZZZZZZZZZZZZ.${issued.split('.')[1]}`]) assert.equal(nonces.isValid('t1', bad), false);
  });
});
