// Admin API: SAML service providers of a tenant (by hand, from SP metadata XML or a metadata URL
// read again on demand and on a schedule), and the
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
import { describeSp, parseSpRegistration, spValues, type SpRegistration } from '../core/saml/sp-registration.js';
import { fetchSpMetadata } from './saml-metadata-fetch.js';
import { applyRefresh, readRefresh } from './saml-metadata-refresh.js';
import { admin, pathTenant } from './context.js';
import { adminBody } from './json.js';

/**
 * `application/samlmetadata+xml` (or text/xml) bodies are SP metadata; JSON bodies the registration
 * itself, or `metadata_url` with the settings metadata does not carry (name, attributes, …), which
 * override what the metadata says. `metadataUrl` is where the registration came from, if a URL.
 */
async function registrationBody(c: Context): Promise<{ reg: SpRegistration; metadataUrl: string | null }> {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/samlmetadata+xml' || type === 'application/xml' || type === 'text/xml') {
    let input: object = registrationFromMetadata(await c.req.text());
    // Settings metadata does not carry (a name, whether to encrypt) come as query parameters.
    const url = new URL(c.req.url);
    const name = url.searchParams.get('name');
    if (name) input = { ...input, name };
    const encrypt = url.searchParams.get('encrypt_assertion');
    if (encrypt === 'true' || encrypt === 'false') input = { ...input, encrypt_assertion: encrypt === 'true' };
    return { reg: parseSpRegistration(input), metadataUrl: null };
  }
  const input = await adminBody(c, z.unknown());
  if (input && typeof input === 'object' && 'metadata_url' in input) {
    const { metadata_url: metadataUrl, ...settings } = input as Record<string, unknown>;
    if (typeof metadataUrl !== 'string') throw new SamlError('invalid_metadata_url', 'metadata_url must be a string.', 422);
    const fromMetadata = registrationFromMetadata(await fetchSpMetadata(metadataUrl));
    return { reg: parseSpRegistration({ ...fromMetadata, ...settings }), metadataUrl };
  }
  return { reg: parseSpRegistration(input), metadataUrl: null };
}

const fromUrl = (metadataUrl: string | null) => {
  const now = metadataUrl ? new Date() : null;
  return { metadataUrl, metadataRefreshedAt: now, metadataCheckedAt: now, metadataError: null };
};

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
    const { reg, metadataUrl } = await registrationBody(c).catch(rethrowSaml);
    const sp = await rt.transaction(async (tx) => {
      const row = await insertSp(tx, { ...spValues(tenant.id, reg), ...fromUrl(metadataUrl) });
      if (!row) throw conflict('sp_exists', `A service provider "${reg.entity_id}" is already registered.`);
      await recordAdmin(tx, a, tenant.id, 'saml.sp.created', row.entityId);
      return row;
    });
    return c.json(describeSp(sp), 201);
  });

  app.put(`${base}/service-providers/:id`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const { reg, metadataUrl } = await registrationBody(c).catch(rethrowSaml);
    const sp = await rt.transaction(async (tx) => {
      const row = await replaceSp(tx, tenant.id, c.req.param('id'), { ...spValues(tenant.id, reg), ...fromUrl(metadataUrl) });
      if (!row) throw notFound('No such service provider.');
      await recordAdmin(tx, a, tenant.id, 'saml.sp.updated', row.entityId);
      return row;
    });
    return c.json(describeSp(sp));
  });

  // Reads the SP's metadata URL now, as the schedule does; a failure is kept on the SP and answered 422.
  app.post(`${base}/service-providers/:id/metadata/refresh`, async (c) => {
    const a = await admin(c, rt);
    const tenant = await pathTenant(c, rt);
    const sp = await findSpById(rt.db, tenant.id, c.req.param('id'));
    if (!sp) throw notFound('No such service provider.');
    if (!sp.metadataUrl) throw new AppError(409, 'no_metadata_url', 'Conflict', { detail: 'This service provider was not registered from a metadata URL.' });
    const prepared = await readRefresh(sp);
    const outcome = await rt.transaction((tx) => applyRefresh(tx, sp, prepared, `admin:${a.actor}`, a.meta));
    if (!outcome.ok) throw new AppError(422, 'metadata_refresh_failed', 'Unprocessable Content', { detail: `${outcome.error} (the registration is unchanged)` });
    return c.json({ ...describeSp(outcome.sp), changed: outcome.changed });
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

/** A refused metadata document is `invalid_sp_metadata`; the other refusals keep their code, all 422. */
const rethrowSaml = (err: unknown): never => {
  if (err instanceof SamlError) {
    const code = err.code === 'invalid_sp_registration' || err.code === 'invalid_metadata_url' || err.code === 'metadata_unavailable' ? err.code : 'invalid_sp_metadata';
    throw new AppError(422, code, 'Unprocessable Content', { detail: err.detail ?? err.message });
  }
  throw err;
};

/** SAML registrations have no event of their own: the audit row records them. */
async function recordAdmin(tx: Queryable, a: Awaited<ReturnType<typeof admin>>, tenantId: string, action: string, entityId: string | null, detail?: Record<string, unknown>) {
  await recordAudit(tx, { tenantId, action, outcome: 'success', actor: `admin:${a.actor}`, clientId: entityId, ...(detail ? { detail } : {}) }, a.meta);
}
