// Kubernetes auth rules: the configuration and role schemas (a role binds service account names
// and namespaces to policies and a TTL), the login error and the issuer URL check. Verifying a
// token, which fetches the issuer's keys, is functions/vault/api/service-account-verifier.ts.
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
// @see https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#serviceaccount-token-volume-projection
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

export interface ServiceAccountIdentity {
  namespace: string;
  name: string;
  uid: string;
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
