import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startVaultServer, type VaultServer } from './vault-server.js';

describe('vault smoke', () => {
  let tdb: TestDatabase;
  let vs: VaultServer;
  before(async () => {
    tdb = await createTestDatabase();
    vs = await startVaultServer(tdb.database);
  });
  after(async () => {
    await vs?.close();
    await tdb?.drop();
  });

  it('inits, unseals, writes and reads', async () => {
    const call = async (method: string, path: string, body?: unknown, token?: string) => {
      const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    };
    let r = await call('GET', 'sys/health');
    assert.equal(r.status, 501, JSON.stringify(r.body));
    r = await call('PUT', 'sys/init', { secret_shares: 3, secret_threshold: 2 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { keys, root_token } = r.body;
    r = await call('GET', 'secret/data/x', undefined, root_token);
    assert.equal(r.status, 503, JSON.stringify(r.body));
    r = await call('PUT', 'sys/unseal', { key: keys[0] });
    assert.equal(r.body.progress, 1);
    r = await call('PUT', 'sys/unseal', { key: keys[2] });
    assert.equal(r.body.sealed, false, JSON.stringify(r.body));
    r = await call('PUT', 'secret/data/x', { data: { a: 'b' } }, root_token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    r = await call('GET', 'secret/data/x', undefined, root_token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.data.data, { a: 'b' });
  });
});
