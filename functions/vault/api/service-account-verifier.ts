// Verifies a pod's projected service-account token against the cluster issuer's keys (OIDC
// discovery → JWKS, over the cluster's CA when configured), its audience and its issuer, then
// checks the role's bound names and namespaces.
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
// @see https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#serviceaccount-token-volume-projection
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  checkBound,
  checkIssuerUrl,
  KubernetesLoginError,
  type KubernetesConfig,
  type KubernetesRole,
  type ServiceAccountIdentity,
} from '#functions/vault/core/kubernetes';

/** Verifies service-account JWTs for one configuration; keys are cached by jose between logins. */
export function createServiceAccountVerifier(config: KubernetesConfig) {
  const issuer = config.issuer ?? config.kubernetes_host;
  const agent = config.kubernetes_ca_cert ? new Agent({ connect: { ca: config.kubernetes_ca_cert } }) : undefined;
  const get = (url: string) =>
    undiciFetch(url, { ...(agent ? { dispatcher: agent } : {}), signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  const keySet = async () => {
    if (jwks) return jwks;
    let jwksUrl = config.jwks_url;
    if (!jwksUrl) {
      // OpenID Connect Discovery 1.0 §4: {issuer}/.well-known/openid-configuration
      const res = await get(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
      if (!res.ok) throw new KubernetesLoginError('invalid_token', `issuer discovery failed with HTTP ${res.status}`);
      const doc = (await res.json()) as { jwks_uri?: unknown };
      if (typeof doc.jwks_uri !== 'string') throw new KubernetesLoginError('invalid_token', 'issuer discovery has no jwks_uri');
      jwksUrl = doc.jwks_uri;
    }
    checkIssuerUrl(jwksUrl);
    jwks = createRemoteJWKSet(new URL(jwksUrl), {
      timeoutDuration: 5000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
      ...(agent ? { [customFetch]: (url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response> } : {}),
    });
    return jwks;
  };

  return async (jwt: string, role: KubernetesRole): Promise<ServiceAccountIdentity> => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, await keySet(), {
        algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'EdDSA'],
        ...(config.disable_iss_validation ? {} : { issuer }),
        ...(role.audience ? { audience: role.audience } : {}),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      if (err instanceof KubernetesLoginError) throw err;
      const reason = err instanceof joseErrors.JOSEError ? err.code : 'ERR_JWT_INVALID';
      throw new KubernetesLoginError('invalid_token', `service account token rejected (${reason})`);
    }
    const k8s = payload['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown; uid?: unknown } } | undefined;
    const namespace = k8s?.namespace ?? payload['kubernetes.io/serviceaccount/namespace'];
    const name = k8s?.serviceaccount?.name ?? payload['kubernetes.io/serviceaccount/service-account.name'];
    const uid = k8s?.serviceaccount?.uid ?? payload['kubernetes.io/serviceaccount/service-account.uid'] ?? '';
    if (typeof namespace !== 'string' || typeof name !== 'string') {
      throw new KubernetesLoginError('invalid_token', 'the token is not a service-account token');
    }
    if (payload.sub !== `system:serviceaccount:${namespace}:${name}`) {
      throw new KubernetesLoginError('invalid_token', 'the token subject does not match its service account');
    }
    checkBound(role, { namespace, name });
    return { namespace, name, uid: String(uid) };
  };
}
