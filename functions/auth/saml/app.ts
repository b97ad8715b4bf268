// The SAML function's app: metadata, SSO (SP- and IdP-initiated), the sign-in form, single logout.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { idpMetadataXml } from '../core/saml/idp-metadata.js';
import { SamlError } from '../core/saml/saml-error.js';
import { findSpByEntityId } from '../core/saml/service-providers.js';
import { auditRefusals, createSamlContext, samlTenant, type SamlContext } from './context.js';
import { samlLoginEndpoint } from './login.js';
import { sloEndpoint } from './slo.js';
import { idpInitiatedEndpoint, ssoEndpoint } from './sso.js';

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  return buildSamlApp(await createSamlContext(ctx));
}

export function buildSamlApp(s: SamlContext): Hono {
  const app = new Hono();
  app.get('/auth/:tenant/saml/metadata', async (c) => {
    const tenant = await samlTenant(s, c);
    const entityId = c.req.query('sp');
    const sp = entityId === undefined ? undefined : await findSpByEntityId(s.rt.db, tenant.id, entityId);
    if (entityId !== undefined && !sp) throw new SamlError('unknown_sp', 'No such service provider.', 404);
    const xml = idpMetadataXml(s.rt.issuer(tenant.slug), await s.keys.published(tenant.id), sp?.wantAuthnRequestsSigned ?? false);
    return c.body(xml, 200, { 'content-type': 'application/samlmetadata+xml', 'cache-control': 'public, max-age=300' });
  });
  app.on(['GET', 'POST'], '/auth/:tenant/saml/sso', (c) => auditRefusals(s, c, 'sso', (meta, tenant) => ssoEndpoint(c, s, tenant, meta)));
  app.get('/auth/:tenant/saml/idp-initiated', (c) => auditRefusals(s, c, 'idp-initiated', (meta, tenant) => idpInitiatedEndpoint(c, s, tenant, meta)));
  app.post('/auth/:tenant/saml/login', (c) => auditRefusals(s, c, 'login', (meta, tenant) => samlLoginEndpoint(c, s, tenant, meta)));
  app.on(['GET', 'POST'], '/auth/:tenant/saml/slo', (c) => auditRefusals(s, c, 'slo', (meta, tenant) => sloEndpoint(c, s, tenant, meta)));
  return app;
}
