// ZenoAuth's grants on PGlite: one connection, which a grant's transaction holds while it runs,
// so nothing a grant does inside its transaction may need the database outside it (the signing
// keys, cold on a fresh start, are loaded before).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Database } from '#shared/db/index';
import type { Client, Tenant, User } from '#functions/auth/core/schema';
import { basicAuth, form, makeWebClientFixture } from '#functions/auth/testing/fixtures';
import { mintCode, mintRefreshToken } from '#functions/auth/testing/grants';
import { startAuthHarness, type AuthHarness } from '#functions/auth/testing/harness';
import token from '#functions/auth/token/function';

const REDIRECT = 'https://app.example.com/cb';
const SCOPE = 'openid offline_access';
/**
 * Twenty grants for one connection: they take turns on it, each statement queuing behind the
 * others within the pool wait deadline, so the burst stays well inside it on a slow machine.
 */
const GRANTS = 20;

export function authSuite(get: () => Database): void {
  describe('ZenoAuth grants on PGlite', () => {
    let h: AuthHarness;
    let tenant: Tenant;
    let client: Client;
    let user: User;
    let secret: string;
    before(async () => {
      const db = get().db;
      ({ tenant, user, client, secret } = await makeWebClientFixture(db, 'pglite-grants', { username: 'carol', redirectUri: REDIRECT, scope: SCOPE }));
      h = await startAuthHarness(get(), { functions: [token] });
    });
    after(async () => {
      await h?.close();
    });

    it('completes twenty concurrent authorization_code and refresh_token grants with the signing keys not loaded yet', async () => {
      const db = get().db;
      const codes = await Promise.all(Array.from({ length: GRANTS / 2 }, () => mintCode(db, tenant, client, user, REDIRECT, SCOPE)));
      const refreshes = await Promise.all(Array.from({ length: GRANTS / 2 }, () => mintRefreshToken(db, tenant, client, user, SCOPE)));
      const send = (body: Record<string, string>) =>
        h.fetch('/auth/pglite-grants/token', { ...form(body), headers: { ...form(body).headers, authorization: basicAuth('web', secret) } });
      const responses = await Promise.all([
        ...codes.map((code) => send({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })),
        ...refreshes.map((refresh_token) => send({ grant_type: 'refresh_token', refresh_token })),
      ]);
      assert.deepEqual(responses.map((r) => r.status), Array(GRANTS).fill(200));
    });
  });
}
