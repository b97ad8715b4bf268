// Test fixtures written straight through the core (no HTTP): tenants, users, clients.
import type { Db } from '#shared/db/index';
import { clientMetadataSchema, type ClientMetadataInput } from '../core/client-metadata.js';
import { clientValues, insertClient } from '../core/clients.js';
import { hashPassword } from '../core/passwords.js';
import type { Client, Tenant, User } from '../core/schema.js';
import { createTenant } from '../core/tenants.js';
import { insertUser, type NewUserInput } from '../core/users.js';

export async function makeTenant(db: Db, slug: string): Promise<Tenant> {
  const t = await createTenant(db, slug, slug.toUpperCase());
  if (!t) throw new Error(`tenant ${slug} exists`);
  return t;
}

export async function makeUser(db: Db, tenant: Tenant, input: NewUserInput & { password?: string }): Promise<User> {
  const { password, ...rest } = input;
  const u = await insertUser(db, tenant.id, { ...rest, passwordHash: password ? await hashPassword(password) : undefined });
  if (!u) throw new Error(`user ${input.username} exists`);
  return u;
}

export async function makeClient(db: Db, tenant: Tenant, meta: ClientMetadataInput): Promise<{ client: Client; secret: string | undefined }> {
  const m = clientMetadataSchema.parse(meta);
  const { values, secret } = clientValues(tenant.id, m, { dynamic: false });
  const client = await insertClient(db, values);
  if (!client) throw new Error('client exists');
  return { client, secret };
}

export const basicAuth = (id: string, secret: string) =>
  'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');

export const form = (params: Record<string, string | string[]>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
  return { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: p.toString() };
};

/** A tenant with one user and a confidential `web` client for the code and refresh grants. */
interface WebClientFixture {
  tenant: Tenant;
  user: User;
  client: Client;
  secret: string;
}

export async function makeWebClientFixture(db: Db, slug: string, opts: { username: string; redirectUri: string; scope: string }): Promise<WebClientFixture> {
  const tenant = await makeTenant(db, slug);
  const user = await makeUser(db, tenant, { username: opts.username });
  const { client, secret } = await makeClient(db, tenant, {
    client_id: 'web',
    redirect_uris: [opts.redirectUri],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: opts.scope,
  });
  if (!secret) throw new Error('the web client was minted without a secret');
  return { tenant, user, client, secret };
}
