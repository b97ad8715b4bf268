// Many authorization_code and refresh_token grants of one tenant at once, through the real token
// function on PostgreSQL with a pool of ten, while the tenant's signing keys are not loaded (a
// cold start, keys not yet created) or were loaded more than a minute ago. A grant that loaded
// the keys from inside its transaction held one connection and waited for another: ten of them
// held the pool for good, and every request of the process hung.
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeWebClientFixture } from '../testing/fixtures.js';
import { mintCode, mintRefreshToken } from '../testing/grants.js';
import type { Client, Tenant, User } from '../core/schema.js';
import token from './function.js';

const REDIRECT = 'https://app.example.com/cb';
const SCOPE = 'openid offline_access';
const GRANTS = 50;

describe('POST /auth/{tenant}/token, many grants at once (RFC 6749 §4.1.3, §6)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let client: Client;
  let user: User;
  let secret: string;
  before(async () => {
    // The production pool size: the grants outnumber the connections five to one. A deadlock holds
    // every connection for good, whatever the wait; the wait is long enough here that a machine
    // busy with other work (each grant verifies an Argon2id client secret) does not time the
    // queue out, and a grant stuck behind a deadlock still ends as a 503 within the test.
    tdb = await createTestDatabase({ max: 10, settings: { poolWaitMs: 25_000 } });
    ({ tenant, user, client, secret } = await makeWebClientFixture(tdb.database.db, 'busy', { username: 'alice', redirectUri: REDIRECT, scope: SCOPE }));
  });
  after(async () => {
    mock.timers.reset();
    await h?.close();
    await tdb.drop();
  });

  const grant = (body: Record<string, string>) =>
    h.fetch('/auth/busy/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('web', secret) } });

  /** Sends half authorization_code and half refresh_token grants at once; returns their statuses. */
  async function burst(): Promise<{ statuses: number[]; bodies: { access_token?: string; id_token?: string; refresh_token?: string }[] }> {
    const codes = await Promise.all(Array.from({ length: GRANTS / 2 }, () => mintCode(tdb.database.db, tenant, client, user, REDIRECT, SCOPE)));
    const refreshes = await Promise.all(Array.from({ length: GRANTS / 2 }, () => mintRefreshToken(tdb.database.db, tenant, client, user, SCOPE)));
    const responses = await Promise.all([
      ...codes.map((code) => grant({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })),
      ...refreshes.map((refresh_token) => grant({ grant_type: 'refresh_token', refresh_token })),
    ]);
    return { statuses: responses.map((r) => r.status), bodies: await Promise.all(responses.map((r) => r.json() as Promise<Record<string, string>>)) };
  }

  it('completes every grant when the signing keys are neither loaded nor created yet', async () => {
    h = await startAuthHarness(tdb.database, { functions: [token] });
    const { statuses, bodies } = await burst();
    assert.deepEqual(statuses, Array(GRANTS).fill(200));
    for (const b of bodies) {
      assert.equal(decodeJwt(b.access_token!).sub, user.id);
      assert.ok(b.id_token && b.refresh_token);
    }
  });

  it('completes every grant when the loaded keys are older than a minute and must be reloaded', async () => {
    // The key store keeps a tenant's keys for 60 s by the wall clock: move it past that.
    mock.timers.enable({ apis: ['Date'], now: Date.now() + 61_000 });
    try {
      const { statuses } = await burst();
      assert.deepEqual(statuses, Array(GRANTS).fill(200));
    } finally {
      mock.timers.reset();
    }
  });
});
