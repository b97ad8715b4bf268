// Two independent ZenoAuth sites for cross-site sync tests: each its own database and running
// stack (a real socket), the tenant `acme` on both, and each site a peer of the other.
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import type { ScimSyncPeer } from '../core/schema.js';
import { findPeer } from '../core/scim-peers.js';
import { mintScimToken } from '../core/scim-tokens.js';
import admin from '../admin/function.js';
import scim from '../scim/function.js';
import scimSync from '../scim-sync/function.js';
import token from '../token/function.js';
import { basicAuth, form, makeTenant } from './fixtures.js';
import { startAuthHarness, type AuthHarness } from './harness.js';

type Json = Record<string, any>;

export interface SyncSite {
  name: string;
  tdb: TestDatabase;
  h: AuthHarness;
  rt: AuthRuntime;
  masterKey: string;
  /** A SCIM token of this site's tenant (what the other site reads it with). */
  token: string;
  /** This site's row for the other site. */
  peer: ScimSyncPeer;
  scim(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  /** Every resource of a SCIM list, page by page. */
  listAll(path: string): Promise<Json[]>;
  /** The admin API of the tenant (`/auth/admin/tenants/acme…`) with a `zeno:admin` token. */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
}

async function openSite(name: string): Promise<Omit<SyncSite, 'peer'> & { token: string; tenantId: string }> {
  const tdb = await createTestDatabase();
  const masterKey = randomBytes(32).toString('base64');
  const h = await startAuthHarness(tdb.database, { listen: true, functions: [token, admin, scim, scimSync], env: { ZENO_AUTH_MASTER_KEY: masterKey } });
  const tenant = await makeTenant(tdb.database.db, 'acme');
  const { token: scimToken } = await mintScimToken(tdb.database.db, tenant.id, `site-${name}`);
  const rt = await createAuthRuntime(h.hosted.find((f) => f.declaration.name === 'auth-scim-sync')!.context);
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await h.fetch(`/auth/acme/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${scimToken}`, ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  const listAll = async (path: string) => {
    const out: Json[] = [];
    for (let start = 1; ; ) {
      const r = await call('GET', `${path}${path.includes('?') ? '&' : '?'}startIndex=${start}&count=200`);
      const items = (r.body.Resources ?? []) as Json[];
      out.push(...items);
      start += items.length;
      if (!items.length || start > r.body.totalResults) return out;
    }
  };
  const res = await h.fetch('/auth/system/token', { ...form({ grant_type: 'client_credentials', scope: 'zeno:admin' }), headers: { ...form({}).headers, authorization: basicAuth('zeno-admin', h.adminSecret) } });
  const adminToken = ((await res.json()) as { access_token: string }).access_token;
  const adminCall = async (method: string, path: string, body?: unknown) => {
    const r = await h.fetch(`/auth/admin/tenants/acme${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : undefined) as Json };
  };
  return { name, tdb, h, rt, masterKey, token: scimToken, tenantId: tenant.id, scim: call, listAll, admin: adminCall };
}

/** Makes `to` a peer of `from` through the admin API, as an operator would. */
async function addPeer(from: Awaited<ReturnType<typeof openSite>>, to: Awaited<ReturnType<typeof openSite>>) {
  const r = await from.admin('POST', '/scim-peers', { name: `site-${to.name}`, url: `${to.h.baseUrl}/auth/acme/scim/v2`, token: to.token });
  if (r.status !== 201) throw new Error(`adding the peer failed: ${r.status} ${JSON.stringify(r.body)}`);
  return (await findPeer(from.tdb.database.db, from.tenantId, r.body.id))!;
}

/** Two sites, each a sync peer of the other. */
export async function openSyncSites(): Promise<[SyncSite, SyncSite]> {
  const a = await openSite('a');
  const b = await openSite('b');
  return [
    { ...a, peer: await addPeer(a, b) },
    { ...b, peer: await addPeer(b, a) },
  ];
}

export async function closeSyncSites(sites: SyncSite[]): Promise<void> {
  for (const s of sites) {
    await s.h.close();
    await s.tdb.drop();
  }
}

/**
 * What must be equal on both sites, by sync key: each user's attributes, each group's name and
 * direct members, and each user's transitive groups (SCIM `groups`, direct and indirect).
 */
export async function directorySnapshot(site: SyncSite): Promise<Json> {
  const users = await site.listAll('/Users');
  const groups = await site.listAll('/Groups');
  const key = (r: Json) => (r.externalId ?? r.id) as string;
  const keyOfId = new Map<string, string>([...users, ...groups].map((r) => [r.id as string, key(r)]));
  return {
    users: users.map((u) => [key(u), u.userName, u.displayName ?? null, u.active, (u.emails ?? []).map((e: Json) => e.value)]).sort(),
    groups: groups.map((g) => [key(g), g.displayName, (g.members ?? []).map((m: Json) => `${m.type}:${keyOfId.get(m.value)}`).sort()]).sort(),
    transitive: users.map((u) => [key(u), (u.groups ?? []).map((g: Json) => `${keyOfId.get(g.value)}:${g.type}`).sort()]).sort(),
    userKeys: users.length,
    groupKeys: groups.length,
  };
}
