// Kubernetes auth rules: the configuration and role schemas (a role binds service account names
// and namespaces to policies and a TTL), the login error and the issuer URL check. Verifying a
// token, which fetches the issuer's keys, is functions/vault/api/service-account-verifier.ts.
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
// @see https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#serviceaccount-token-volume-projection
import { z } from 'zod';

/** A boolean as the `vault` CLI sends it (`key=false` is the string "false"). */
const flag = (fallback: boolean) => z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean().default(fallback));

export const kubernetesConfigSchema = z.object({
  kubernetes_host: z.string().url(),
  /** The service-account token issuer; its discovery document names the JWKS. Defaults to kubernetes_host. */
  issuer: z.string().url().optional(),
  /** Skip discovery and fetch keys here. */
  jwks_url: z.string().url().optional(),
  kubernetes_ca_cert: z.string().max(64 * 1024).optional(),
  disable_iss_validation: flag(false),
  /**
   * Ask the API server (`kubernetes_host`) to review each login's token (TokenReview): a token of
   * a deleted service account, or one the cluster revoked, stops working at once. Off, tokens are
   * verified locally against the issuer's keys and stay valid until they expire.
   */
  use_token_review: flag(true),
  /** The bearer token of TokenReview calls (write-only, stored encrypted); see reviewerJwtSource. */
  token_reviewer_jwt: z.string().min(1).max(16 * 1024).optional(),
  /** Never fall back to the pod's own service-account token for TokenReview. */
  disable_local_ca_jwt: flag(false),
  /** A role without `audience` logs nobody in unless this is set (any audience is then accepted). */
  allow_roles_without_audience: flag(false),
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

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export class KubernetesLoginError extends Error {
  readonly code: 'invalid_token' | 'not_bound' | 'review_failed' | 'review_unavailable';
  constructor(code: KubernetesLoginError['code'], message: string) {
    super(message);
    this.name = 'KubernetesLoginError';
    this.code = code;
  }
}

/** Kubernetes' username of a service account (TokenReview's status.user.username). */
export function serviceAccountOfUsername(username: unknown): { namespace: string; name: string } | undefined {
  if (typeof username !== 'string') return undefined;
  const m = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(username);
  return m ? { namespace: m[1]!, name: m[3]! } : undefined;
}

/** Whether a role's bound names and namespaces admit the service account. */
export function checkBound(role: KubernetesRole, sa: { namespace: string; name: string }): void {
  const bound = (list: string[], v: string) => list.includes('*') || list.includes(v);
  if (!bound(role.boundServiceAccountNames, sa.name)) throw new KubernetesLoginError('not_bound', 'service account name not authorized');
  if (!bound(role.boundServiceAccountNamespaces, sa.namespace)) throw new KubernetesLoginError('not_bound', 'namespace not authorized');
}

/** Only https issuers, except on the loopback (tests, the local runner). */
export function checkIssuerUrl(url: string): void {
  const u = new URL(url);
  const loopback = u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]';
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw new TypeError('the issuer and JWKS URLs must use https');
}
