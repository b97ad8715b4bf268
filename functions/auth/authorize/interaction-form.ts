// Checks a form posted from the sign-in or consent page: the interaction must be live and the
// CSRF token must be the one derived from the posting browser's cookie and the interaction.
import type { Context } from 'hono';
import { findClientById } from '../core/clients.js';
import { safeEqual } from '../core/crypto.js';
import { findInteraction, interactionCsrf } from '../core/interactions.js';
import type { AuthRuntime } from '../core/runtime.js';
import type { Interaction, Tenant } from '../core/schema.js';
import { requestMeta } from '../web/request.js';
import type { AuthzRequest } from './authorization-request.js';
import { BROWSER_COOKIE, readCookie } from './cookies.js';
import type { FlowContext } from './flow-context.js';
import { browserParams } from './html-form.js';
import { AuthorizePageError } from './responses.js';

interface PostedInteraction {
  form: URLSearchParams;
  handle: string;
  row: Interaction;
  req: AuthzRequest;
  flow: FlowContext;
}

const expired = () => new AuthorizePageError(400, 'interaction_expired', 'This form has expired or was not opened in this browser.');

export async function readInteractionForm(c: Context, rt: AuthRuntime, tenant: Tenant): Promise<PostedInteraction> {
  const form = await browserParams(c);
  const handle = form.get('interaction') ?? '';
  const csrf = form.get('csrf') ?? '';
  const browser = readCookie(c, BROWSER_COOKIE);
  if (!handle || !browser) throw expired();
  const expected = interactionCsrf(browser, handle);
  if (!safeEqual(csrf, expected)) throw expired();
  const row = await findInteraction(rt.db, tenant.id, 'interaction', handle);
  if (!row?.csrf || !safeEqual(row.csrf, expected)) throw expired();
  const client = await findClientById(rt.db, tenant.id, row.clientId);
  if (!client) throw expired();
  const flow: FlowContext = { rt, tenant, issuer: rt.issuer(tenant.slug), client, meta: requestMeta(c, rt) };
  return { form, handle, row, req: row.params as unknown as AuthzRequest, flow };
}
