// What the SAML endpoints share: the auth runtime, the SAML key store and the pairwise-NameID key;
// and the audit row every refused message leaves.
import type { Context } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { recordAudit, type RequestMeta } from '../core/audit.js';
import type { AuthRuntime } from '../core/runtime.js';
import { createAuthRuntime } from '../core/runtime.js';
import { createSamlSecrets, type SamlSecrets } from '../core/saml/secrets.js';
import { SamlError } from '../core/saml/saml-error.js';
import type { Tenant } from '../core/schema.js';
import { requestMeta, tenantOf } from '../web/request.js';

export interface SamlContext extends SamlSecrets {
  rt: AuthRuntime;
}

export async function createSamlContext(ctx: FunctionContext): Promise<SamlContext> {
  const rt = await createAuthRuntime(ctx);
  return { rt, ...(await createSamlSecrets(ctx, rt.db)) };
}

/** The tenant of the path; an unknown one is a 404. */
export const samlTenant = (s: SamlContext, c: Context): Promise<Tenant> =>
  tenantOf(s.rt, c.req.param('tenant'), () => new SamlError('unknown_tenant', 'No such identity provider.', 404));

/**
 * Runs an endpoint; a refused message leaves an audit row (`saml.refused`, its code) before the
 * error renders, so attacks are visible to the tenant's operators.
 */
export async function auditRefusals(s: SamlContext, c: Context, endpoint: string, run: (meta: RequestMeta, tenant: Tenant) => Promise<Response>): Promise<Response> {
  const tenant = await samlTenant(s, c);
  const meta = requestMeta(c, s.rt);
  try {
    return await run(meta, tenant);
  } catch (err) {
    if (err instanceof SamlError && err.status < 500) {
      await recordAudit(s.rt.db, { tenantId: tenant.id, action: 'saml.refused', outcome: 'failure', detail: { endpoint, code: err.code, reason: err.detail } }, meta);
    }
    throw err;
  }
}
