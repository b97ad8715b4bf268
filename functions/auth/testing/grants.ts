// Authorization codes and refresh tokens written straight through the core, for tests that send
// many grants at once without a browser sign-in for each.
import { randomHandle, sha256Hex } from '../core/crypto.js';
import { createFamily, issueRefreshToken } from '../core/grants.js';
import { authorizationCodes, type Client, type Tenant, type User } from '../core/schema.js';
import type { Db } from '#shared/db/index';

/** Lifetime of a minted code: long enough for tests that move the clock forward past a minute. */
const MINTED_CODE_TTL_MS = 10 * 60_000;

/** An unused authorization code of `client` for `user`, without PKCE, for `redirectUri` and `scope`. */
export async function mintCode(db: Db, tenant: Tenant, client: Client, user: User, redirectUri: string, scope: string): Promise<string> {
  const code = randomHandle(32);
  await db.insert(authorizationCodes).values({
    codeHash: sha256Hex(code),
    tenantId: tenant.id,
    clientId: client.id,
    userId: user.id,
    redirectUri,
    scope,
    authTime: new Date(),
    acr: '1',
    amr: ['pwd'],
    expiresAt: new Date(Date.now() + MINTED_CODE_TTL_MS),
  });
  return code;
}

/** A live refresh token of a new grant of `client` to `user`. */
export async function mintRefreshToken(db: Db, tenant: Tenant, client: Client, user: User, scope: string): Promise<string> {
  const family = await createFamily(db, { tenantId: tenant.id, clientId: client.id, userId: user.id, scope, authTime: new Date(), acr: '1', amr: ['pwd'] });
  return issueRefreshToken(db, family, 3600);
}
