// Kubernetes auth: a pod's projected service-account token, verified against the cluster
// issuer's keys (OIDC discovery → JWKS), its audience and its issuer; a role binds service
// account names and namespaces to policies and a TTL.
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
// @see https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#serviceaccount-token-volume-projection
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { z } from 'zod';

export const kubernetesConfigSchema = z.object({
  kubernetes_host: z.string().url(),
  /** The service-account token issuer; its discovery document names the JWKS. Defaults to kubernetes_host. */
  issuer: z.string().url().optional(),
  /** Skip discovery and fetch keys here. */
  jwks_url: z.string().url().optional(),
  kubernetes_ca_cert: z.string().max(64 * 1024).optional(),
  disable_iss_validation: z.boolean().default(false),
});
export type KubernetesConfig = z.infer<typeof kubernetesConfigSchema>;

const names = z.union([z.array(z.string().min(1).max(253)), z.string()]).transform((v) =>
  (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter(Boolean),
);

export const kubernetesRoleSchema = z.object({
  bound_service_account_names: names.pipe(z.array(z.string()).min(1)),
  bound_service_account_namespaces: names.pipe(z.array(z.string()).min(1)),
  audience: z.string().min(1).max(512).optional(),
  token_policies: names.optional(),
  policies: names.optional(),
  token_ttl: z.union([z.number(), z.string()]).optional(),
  ttl: z.union([z.number(), z.string()]).optional(),
  token_max_ttl: z.union([z.number(), z.string()]).optional(),
});

export interface KubernetesRole {
  boundServiceAccountNames: string[];
  boundServiceAccountNamespaces: string[];
  audience: string | undefined;
  policies: string[];
  ttlSeconds: number;
  maxTtlSeconds: number;
}

export class KubernetesLoginError extends Error {
  readonly code: 'invalid_token' | 'not_bound';
  constructor(code: 'invalid_token' | 'not_bound', message: string) {
    super(message);
    this.name = 'KubernetesLoginError';
    this.code = code;
  }
}

/** Only https issuers, except on the loopback (tests, the local runner). */
export function checkIssuerUrl(url: string): void {
  const u = new URL(url);
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw new TypeError('the issuer and JWKS URLs must use https');
}

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  uid: string;
}

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
    const bound = (list: string[], v: string) => list.includes('*') || list.includes(v);
    if (!bound(role.boundServiceAccountNames, name)) throw new KubernetesLoginError('not_bound', 'service account name not authorized');
    if (!bound(role.boundServiceAccountNamespaces, namespace)) throw new KubernetesLoginError('not_bound', 'namespace not authorized');
    return { namespace, name, uid: String(uid) };
  };
}
