// Which clients took part in a browser session: those that got tokens through it (a grant whose
// token family names the session). Only they are told when the session ends, by back-channel
// (OIDC Back-Channel Logout 1.0 §2.7) or front-channel (Front-Channel Logout 1.0 §3).
import { and, eq, isNotNull } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { clients, tokenFamilies, type Client } from './schema.js';

/** The clients with a grant started in `sessionId` and a back- or front-channel logout URI. */
export async function logoutClientsOf(q: Queryable, tenantId: string, sessionId: string, channel: 'back' | 'front'): Promise<Client[]> {
  if (!/^[0-9a-f-]{36}$/i.test(sessionId)) return [];
  const uri = channel === 'back' ? clients.backchannelLogoutUri : clients.frontchannelLogoutUri;
  return q
    .selectDistinct({ client: clients })
    .from(tokenFamilies)
    .innerJoin(clients, eq(clients.id, tokenFamilies.clientId))
    .where(and(eq(tokenFamilies.tenantId, tenantId), eq(tokenFamilies.sessionId, sessionId), eq(clients.tenantId, tenantId), isNotNull(uri)))
    .then((rows) => rows.map((r) => r.client));
}

/**
 * The frame a client's front-channel logout URI gets: with `iss` and `sid` when the client asked
 * for them (Front-Channel Logout 1.0 §2: "If either is included, both MUST be").
 */
export function frontChannelLogoutUrl(client: Client, issuer: string, sessionId: string): string {
  if (!client.frontchannelLogoutUri) throw new TypeError('the client has no front-channel logout URI');
  const url = new URL(client.frontchannelLogoutUri);
  if (client.frontchannelLogoutSessionRequired) {
    url.searchParams.set('iss', issuer);
    url.searchParams.set('sid', sessionId);
  }
  return url.toString();
}
