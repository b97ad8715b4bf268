// The back-channel logout function. A session.revoked event fans out into one
// backchannel-logout.requested event per client that got tokens in the session and registered a
// URI (so a client that is down is retried alone); each of those signs a fresh logout token and
// POSTs it. A failure rolls the inbox row back and the Broker retries with backoff; after the last
// retry the event is a dead letter an admin can see and replay.
import { Hono } from 'hono';
import type { EventHandler, ReceivedEvent } from '#shared/events/receive';
import type { FunctionContext } from '#shared/function/define';
import { AppError } from '#shared/http/errors';
import * as ev from '#eventing/catalog/auth';
import { recordAudit } from '../core/audit.js';
import { findClient } from '../core/clients.js';
import { AUTH_EVENTS } from '../core/event-types.js';
import { signLogoutToken } from '../core/logout-token.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { logoutClientsOf } from '../core/session-clients.js';
import { findTenantBySlug } from '../core/tenants.js';
import { LogoutDeliveryFailed, postLogoutToken, readTimeoutMs } from './deliver.js';

type SessionEnded = { tenant: string; sessionId: string; userId: string };
type LogoutRequested = SessionEnded & { clientId: string };

/** Events carry no request: the audit rows of deliveries name the function instead. */
const META = { ip: undefined, userAgent: 'auth-backchannel-logout', requestId: undefined };

/** One runtime per function context: createApp and the event handlers share it. */
const runtimes = new WeakMap<FunctionContext, Promise<AuthRuntime>>();
const runtimeOf = (ctx: FunctionContext) => {
  let rt = runtimes.get(ctx);
  if (!rt) runtimes.set(ctx, (rt = createAuthRuntime(ctx)));
  return rt;
};

export function events(ctx: FunctionContext): Record<string, EventHandler> {
  const timeoutMs = readTimeoutMs(ctx.env.ZENO_AUTH_BACKCHANNEL_LOGOUT_TIMEOUT_MS);

  const fanOut: EventHandler = async (e: ReceivedEvent<SessionEnded>, tx) => {
    const rt = await runtimeOf(ctx);
    const tenant = await findTenantBySlug(tx, e.data.tenant);
    if (!tenant) return;
    // §2.7: only the RPs that the session was used with; a client with no token in it hears nothing.
    for (const client of await logoutClientsOf(tx, tenant.id, e.data.sessionId, 'back')) {
      await rt.events.emit(tx, { type: AUTH_EVENTS.backchannelLogoutRequested, data: { tenant: tenant.slug, clientId: client.clientId, sessionId: e.data.sessionId, userId: e.data.userId } });
    }
  };

  const deliver: EventHandler = async (e: ReceivedEvent<LogoutRequested>, tx) => {
    const rt = await runtimeOf(ctx);
    const tenant = await findTenantBySlug(tx, e.data.tenant);
    if (!tenant) return;
    // Deleted since, or its URI removed: nobody to tell.
    const client = await findClient(tx, tenant.id, e.data.clientId);
    if (!client?.backchannelLogoutUri) return;
    const token = await signLogoutToken(await rt.keys.signer(tenant.id), {
      issuer: rt.issuer(tenant.slug),
      clientId: client.clientId,
      alg: client.idTokenSignedResponseAlg,
      sub: e.data.userId,
      sid: e.data.sessionId,
    });
    try {
      await postLogoutToken(client.backchannelLogoutUri, token, timeoutMs);
    } catch (err) {
      if (!(err instanceof LogoutDeliveryFailed)) throw err;
      ctx.log.warn('back-channel logout not delivered', { tenant: tenant.slug, client: client.clientId, event_id: e.id, reason: err.message, retryable: err.retryable });
      // A 4xx answer is not retried by the Broker: the event goes to the dead letters at once.
      if (!err.retryable) throw new AppError(422, 'logout_token_refused', 'Unprocessable Content', { detail: `${client.clientId}: ${err.message}` });
      throw err;
    }
    await recordAudit(tx, { tenantId: tenant.id, action: 'backchannel_logout.delivered', outcome: 'success', clientId: client.clientId, detail: { session: e.data.sessionId } }, META);
  };

  return { [ev.sessionRevoked.type]: fanOut, [ev.backchannelLogoutRequested.type]: deliver };
}

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  await runtimeOf(ctx);
  return new Hono();
}
