// POST {issuer}/device_authorization (RFC 8628 §3.1, §3.2): a client on a device without a
// browser (a TV, a CLI) asks for a device code and a user code to show its user.
import { DEVICE_CODE_TTL_SECONDS, DEVICE_POLL_INTERVAL_SECONDS, createDeviceCode, formatUserCode } from '../core/device-codes.js';
import { DEVICE_CODE_GRANT } from '../core/grant-types.js';
import { OAuthError } from '../core/oauth-error.js';
import { checkScopes, parseAuthorizationDetails, parseResources, parseScope } from '../core/request-params.js';
import { tokenJson } from '../web/token-json.js';
import type { GrantContext } from './grant-context.js';

/** @see https://www.rfc-editor.org/rfc/rfc8628#section-3.2 */
export async function deviceAuthorization(g: GrantContext): Promise<Response> {
  const { rt, tenant, client, params } = g;
  // §3.1: "the client ... authenticates ... as described in Section 3.2.1 of [RFC6749]", which
  // authenticateClient did; a client not registered for the grant is refused as at the token endpoint.
  if (!client.grantTypes.includes(DEVICE_CODE_GRANT)) throw new OAuthError('unauthorized_client', 'The client may not use the device authorization grant.');
  const scope = parseScope(params.get('scope') ?? undefined);
  checkScopes(scope, client.scopes);
  const resource = parseResources(params.getAll('resource'));
  const details = parseAuthorizationDetails(params.get('authorization_details') ?? undefined, client.authorizationDetailsTypes);
  const { deviceCode, userCode } = await createDeviceCode(rt.db, {
    tenantId: tenant.id,
    clientId: client.id,
    scope: scope.join(' '),
    resource,
    authorizationDetails: details ?? null,
  });
  const verificationUri = `${g.issuer}/device`;
  const shown = formatUserCode(userCode);
  return tokenJson({
    device_code: deviceCode,
    user_code: shown,
    verification_uri: verificationUri,
    // §3.3.1: the user code in the URI, for a QR code or a link; the page still asks for confirmation.
    verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(shown)}`,
    expires_in: DEVICE_CODE_TTL_SECONDS,
    interval: DEVICE_POLL_INTERVAL_SECONDS,
  });
}
