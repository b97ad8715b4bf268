// grant_type=urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693): a client trades a token
// of this tenant for an access token to another audience, as the subject (impersonation, when its
// policy allows) or on the subject's behalf with an `act` claim naming itself (delegation).
import { TOKEN_TYPE } from '../core/grant-types.js';
import { MAX_TOKEN_LIFETIME_SECONDS } from '../core/keys.js';
import { OAuthError } from '../core/oauth-error.js';
import { parseResources, parseScope } from '../core/request-params.js';
import { signAccessToken } from '../core/tokens.js';
import { findUserById } from '../core/users.js';
import { tokenJson } from '../web/token-json.js';
import { auditOrRefuse } from './audit-or-refuse.js';
import { readPresentedToken } from './exchange-tokens.js';
import type { GrantContext } from './grant-context.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** @see https://www.rfc-editor.org/rfc/rfc8693#section-2.1 */
export async function tokenExchangeGrant(g: GrantContext): Promise<Response> {
  const { rt, tenant, client, params } = g;
  // Exchanging a user's token for another audience is a server-side act: the client must authenticate.
  if (client.tokenEndpointAuthMethod === 'none') throw new OAuthError('unauthorized_client', 'Public clients cannot exchange tokens.');
  const subjectToken = params.get('subject_token');
  const subjectType = params.get('subject_token_type');
  // §2.1: subject_token and subject_token_type are REQUIRED; actor_token_type "is REQUIRED when
  // the actor_token parameter is present ... and MUST NOT be included otherwise".
  if (!subjectToken || !subjectType) throw new OAuthError('invalid_request', 'subject_token and subject_token_type are required.');
  const actorToken = params.get('actor_token');
  const actorType = params.get('actor_token_type');
  if ((actorToken === null) !== (actorType === null)) throw new OAuthError('invalid_request', 'actor_token and actor_token_type go together.');
  const requestedType = params.get('requested_token_type');
  if (requestedType !== null && requestedType !== TOKEN_TYPE.accessToken && requestedType !== TOKEN_TYPE.jwt) {
    throw new OAuthError('invalid_request', 'Only access tokens are issued by token exchange.');
  }

  // §2.1 audience and resource name the target; each must be in the client's exchange policy.
  const audiences = params.getAll('audience');
  if (audiences.length > 10 || audiences.some((a) => a.length === 0 || a.length > 1000)) throw new OAuthError('invalid_target', 'The audience parameter is malformed.');
  let targets = [...new Set([...audiences, ...parseResources(params.getAll('resource'))])];
  if (targets.length === 0 && client.tokenExchangeAudiences.length === 1) targets = [...client.tokenExchangeAudiences];
  if (targets.length === 0) throw new OAuthError('invalid_target', 'Name the audience or resource the token is for.');
  // §2.2.2: "invalid_target ... the client is not authorized to ... the requested audience".
  const refused = targets.filter((t) => !client.tokenExchangeAudiences.includes(t));
  if (refused.length) throw new OAuthError('invalid_target', `The client may not exchange tokens for: ${refused.join(' ').slice(0, 200)}.`);

  const subject = await readPresentedToken(g, 'subject', subjectToken, subjectType, client);
  // A DPoP-bound token is exchanged only by its key's holder (RFC 9449 §7.1 holds for every use).
  if (subject.jkt && g.dpop?.jkt !== subject.jkt) throw new OAuthError('invalid_request', 'The subject_token is DPoP-bound; send a proof of its key.');
  // RFC 8705 §3: a certificate-bound token is used only over a connection with its certificate.
  if (subject.x5t && g.certificate?.thumbprint !== subject.x5t) throw new OAuthError('invalid_request', 'The subject_token is certificate-bound; connect with its client certificate.');
  let act: Record<string, unknown> | undefined;
  if (actorToken !== null) {
    const actor = await readPresentedToken(g, 'actor', actorToken, actorType!, client);
    // The actor is the calling client (or acts through one of its own tokens): another client's token cannot be borrowed.
    if (actor.clientId !== client.clientId) throw new OAuthError('invalid_request', 'The actor_token was issued to another client.');
    // §4.1: "the current actor ... the least recently effective actor is the most deeply nested".
    act = { sub: actor.sub, client_id: actor.clientId, ...(subject.act ? { act: subject.act } : {}) };
  } else {
    if (!client.tokenExchangeImpersonation) throw new OAuthError('invalid_request', 'The client may not impersonate; send an actor_token for delegation.');
    act = subject.act;
  }

  // §2.1 scope: never broader than what the subject token carries.
  const requested = parseScope(params.get('scope') ?? undefined);
  if (requested.some((s) => !subject.scope.includes(s))) throw new OAuthError('invalid_scope', 'The requested scope exceeds the subject token.');
  const scope = (requested.length ? requested : subject.scope).join(' ');
  if (UUID.test(subject.sub)) {
    const user = await findUserById(rt.db, tenant.id, subject.sub);
    if (user && !user.active) throw new OAuthError('invalid_request', 'The subject is no longer active.');
  }

  // The exchanged token outlives neither the client's lifetime nor the subject token.
  const now = Math.floor(Date.now() / 1000);
  const ttl = Math.max(1, Math.min(client.accessTokenTtl, MAX_TOKEN_LIFETIME_SECONDS, subject.exp !== undefined ? subject.exp - now : Infinity));
  const signer = rt.keys.cachedSigner(tenant.id) ?? (await rt.keys.signer(tenant.id));
  const at = signAccessToken(signer, {
    issuer: g.issuer,
    tenantId: tenant.id,
    sub: subject.sub,
    clientId: client.clientId,
    scope,
    audience: targets,
    ttlSeconds: ttl,
    grantId: subject.gid,
    jkt: g.dpop?.jkt,
    x5t: g.x5t,
    act,
  });
  await auditOrRefuse(rt.auditBuffer.add(
    { tenantId: tenant.id, action: 'token.issued', outcome: 'success', actor: subject.sub, clientId: client.clientId, detail: { grant: 'token_exchange', jti: at.jti, audience: targets, ...(act ? { act } : { impersonation: true }) } },
    g.meta,
  ));
  // §2.2.1: issued_token_type is REQUIRED in the response.
  return tokenJson({ access_token: at.token, issued_token_type: TOKEN_TYPE.accessToken, token_type: g.dpop ? 'DPoP' : 'Bearer', expires_in: ttl, scope });
}
