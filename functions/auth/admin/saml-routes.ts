// Admin API: SAML service providers of a tenant (by hand or from SP metadata XML), and the
// rotation of the tenant's SAML signing key.
import type { Context, Hono } from 'hono';
import type { Queryable } from '#shared/db/index';
import { AppError, conflict, notFound } from '#shared/http/errors';
import { z } from 'zod';
import { recordAudit } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import { certificatePem } from '../core/saml/certificate.js';
import type { SamlKeyStore } from '../core/saml/keys.js';
import { SamlError } from '../core/saml/saml-error.js';
import { deleteSp, findSpById, insertSp, listSps, replaceSp } from '../core/saml/service-providers.js';
import { registrationFromMetadata } from '../core/saml/sp-metadata.js';
import { checkSpRegistration, describeSp, spRegistrationSchema, spValues, type SpRegistration } from '../core/saml/sp-registration.js';
import { admin, pathTenant } from './context.js';
import { adminBody } from './json.js';

/** `application/samlmetadata+xml` (or text/xml) bodies are SP metadata; JSON bodies the registration itself. */
async function registrationBody(c: Context): Promise<SpRegistration> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  let input: unknown;
  if (type === 'application/samlmetadata+xml' || type === 'application/xml' || type === 'text/xml') {
    const xml = await c.req.text();
    input = registrationFromMetadata(xml);
    const url = new URL(c.req.url);
    // Settings metadata does not carry (the attribute map, a name) come as query parameters.
    const extra = url.searchParams.get('name');
    if (extra) input = { ...(input as object), name: extra };
  } else {
    input = await adminBody(c, z.unknown());
  }
  const parsed = spRegistrationSchema.safeParse(input);
  if (!parsed.success) throw new AppError(422, 'invalid_sp_registration', 'Unprocessable Content', { detail: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
  const problem = checkSpRegistration(parsed.data);
  if (problem) throw new AppError(422, 'invalid_sp_registration', 'Unprocessable Content', { detail: problem });
  return parsed.data;
}

export function samlRoutes(app: Hono, rt: AuthRuntime, keys: SamlKeyStore): void {
  const base = '/auth/admin/tenants/:tenant/saml';
  app.get(`${base}/service-providers`, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json({ service_providers: (await listSps(rt.db, tenant.id)).map(describeSp) });
  });

  app.get(`${base}/service-providers/:id`, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const sp = await findSpById(rt.db, tenant.id, c.req.param('id'));
    if (!sp) throw notFound('No such service provider.');
    return c.json(describeSp(sp));
  });

  app.post(`${base}/service-providers`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const reg = await registrationBody(c).catch(rethrowSaml);
    const sp = await rt.transaction(async (tx) => {
      const row = await insertSp(tx, spValues(tenant.id, reg));
      if (!row) throw conflict('sp_exists', `A service provider "${reg.entity_id}" is already registered.`);
      await recordAdmin(tx, a, tenant.id, 'saml.sp.created', row.entityId);
      return row;
    });
    return c.json(describeSp(sp), 201);
  });

  app.put(`${base}/service-providers/:id`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const reg = await registrationBody(c).catch(rethrowSaml);
    const sp = await rt.transaction(async (tx) => {
      const row = await replaceSp(tx, tenant.id, c.req.param('id'), spValues(tenant.id, reg));
      if (!row) throw notFound('No such service provider.');
      await recordAdmin(tx, a, tenant.id, 'saml.sp.updated', row.entityId);
      return row;
    });
    return c.json(describeSp(sp));
  });

  app.delete(`${base}/service-providers/:id`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    await rt.transaction(async (tx) => {
      const row = await deleteSp(tx, tenant.id, c.req.param('id'));
      if (!row) throw notFound('No such service provider.');
      await recordAdmin(tx, a, tenant.id, 'saml.sp.deleted', row.entityId);
    });
    return c.body(null, 204);
  });

  app.get(`${base}/certificates`, async (c) => {
    await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    return c.json({ certificates: (await keys.published(tenant.id)).map(certificatePem) });
  });

  app.post(`${base}/keys/rotate`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const rotated = await rt.transaction(async (tx) => {
      const r = await keys.rotate(tx, tenant.id);
      await recordAdmin(tx, a, tenant.id, 'saml.key.rotated', null, { created: r.created, retired: r.retired });
      return r;
    });
    return c.json(rotated);
  });
}

const rethrowSaml = (err: unknown): never => {
  if (err instanceof SamlError) throw new AppError(422, 'invalid_sp_metadata', 'Unprocessable Content', { detail: err.detail ?? err.message });
  throw err;
};

/** SAML registrations have no event of their own: the audit row records them. */
async function recordAdmin(tx: Queryable, a: Awaited<ReturnType<typeof admin>>, tenantId: string, action: string, entityId: string | null, detail?: Record<string, unknown>) {
  await recordAudit(tx, { tenantId, action, outcome: 'success', actor: `admin:${a.actor}`, clientId: entityId, ...(detail ? { detail } : {}) }, a.meta);
}
