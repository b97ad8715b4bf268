// Admin API: clients of a tenant (RFC 7591 metadata plus first_party and token lifetimes).
import type { Hono } from 'hono';
import { AppError, conflict, notFound } from '#shared/http/errors';
import { adminBody } from './json.js';
import { ADMIN_CLIENT_ID, SYSTEM_TENANT } from '../core/bootstrap.js';
import { checkClientMetadata, clientMetadataSchema, describeClient } from '../core/client-metadata.js';
import { clientValues, deleteClient, findClient, insertClient, listClients, rotateClientSecret } from '../core/clients.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import type { AuthRuntime } from '../core/runtime.js';
import { admin, pathTenant } from './context.js';

export function clientRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/admin/tenants/:tenant/clients', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json({ clients: (await listClients(rt.db, tenant.id)).map(describeClient) });
  });

  app.get('/auth/admin/tenants/:tenant/clients/:clientId', async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const client = await findClient(rt.db, tenant.id, c.req.param('clientId'));
    if (!client) throw notFound('No such client.');
    return c.json(describeClient(client));
  });

  app.post('/auth/admin/tenants/:tenant/clients', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const m = await adminBody(c, clientMetadataSchema);
    const problem = checkClientMetadata(m);
    if (problem) throw new AppError(422, 'invalid_client_metadata', 'Unprocessable Content', { detail: problem });
    const { values, secret } = clientValues(tenant.id, m, { dynamic: false });
    const client = await rt.transaction(async (tx) => {
      const row = await insertClient(tx, values);
      if (!row) throw conflict('client_exists', `Client "${values.clientId}" already exists.`);
      await a.record(tx, { tenantId: tenant.id, action: 'client.created', clientId: row.clientId }, { type: AUTH_EVENTS.clientCreated, data: { tenant: tenant.slug, clientId: row.clientId, actor: a.actor } });
      return row;
    });
    return c.json({ ...describeClient(client), ...(secret ? { client_secret: secret } : {}) }, 201, { 'cache-control': 'no-store' });
  });

  // A new secret, shown once; the old one is refused from the commit on.
  app.post('/auth/admin/tenants/:tenant/clients/:clientId/secret', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const clientId = c.req.param('clientId');
    if (tenant.slug === SYSTEM_TENANT && clientId === ADMIN_CLIENT_ID) throw conflict('admin_client', 'The admin client secret is set by ZENO_BOOTSTRAP_CLIENT_SECRET.');
    const rotated = await rt.transaction(async (tx) => {
      const r = await rotateClientSecret(tx, tenant.id, clientId);
      if (r === 'not_found') throw notFound('No such client.');
      if (r === 'no_secret') throw conflict('no_client_secret', 'This client does not authenticate with a secret.');
      await a.record(tx, { tenantId: tenant.id, action: 'client.secret_rotated', clientId }, { type: AUTH_EVENTS.clientUpdated, data: { tenant: tenant.slug, clientId, actor: a.actor } });
      return r;
    });
    return c.json({ ...describeClient(rotated.client), client_secret: rotated.secret }, 200, { 'cache-control': 'no-store' });
  });

  app.delete('/auth/admin/tenants/:tenant/clients/:clientId', async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const clientId = c.req.param('clientId');
    if (tenant.slug === SYSTEM_TENANT && clientId === ADMIN_CLIENT_ID) throw conflict('admin_client', 'The admin client cannot be deleted.');
    await rt.transaction(async (tx) => {
      const row = await deleteClient(tx, tenant.id, clientId);
      if (!row) throw notFound('No such client.');
      await a.record(tx, { tenantId: tenant.id, action: 'client.deleted', clientId }, { type: AUTH_EVENTS.clientDeleted, data: { tenant: tenant.slug, clientId, actor: a.actor } });
    });
    return c.body(null, 204);
  });
}
