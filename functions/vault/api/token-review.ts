// Asks the Kubernetes API server whether a service-account token is valid now (TokenReview):
// the API server checks its signature, expiry and audience, and that its service account (and
// the pod it is bound to) still exists, so a deleted service account's token stops working at
// once. The unverified claims must name the same service account as the review.
// @see https://kubernetes.io/docs/reference/kubernetes-api/authentication-resources/token-review-v1/
// @see https://developer.hashicorp.com/vault/docs/auth/kubernetes#configuring-kubernetes
import { decodeJwt } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  checkBound,
  KubernetesLoginError,
  serviceAccountOfUsername,
  type KubernetesConfig,
  type KubernetesRole,
  type ServiceAccountIdentity,
} from '#functions/vault/core/kubernetes';

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; uid?: string };
}

/** Reviews tokens for one configuration; `reviewer` gives the bearer token of each call. */
export function createTokenReviewer(config: KubernetesConfig) {
  const agent = config.kubernetes_ca_cert ? new Agent({ connect: { ca: config.kubernetes_ca_cert } }) : undefined;
  const url = `${config.kubernetes_host.replace(/\/+$/, '')}/apis/authentication.k8s.io/v1/tokenreviews`;

  return async (jwt: string, role: KubernetesRole, reviewer: string): Promise<ServiceAccountIdentity> => {
    // The claims say who the token claims to be; the review says whether that is true now.
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(jwt);
    } catch {
      throw new KubernetesLoginError('invalid_token', 'not a JWT');
    }
    const body = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec: { token: jwt, ...(role.audience ? { audiences: [role.audience] } : {}) },
    };
    let res;
    try {
      res = await undiciFetch(url, {
        method: 'POST',
        ...(agent ? { dispatcher: agent } : {}),
        signal: AbortSignal.timeout(5000),
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${reviewer}` },
        body: JSON.stringify(body),
      });
    } catch {
      throw new KubernetesLoginError('review_unavailable', 'the Kubernetes API server could not be reached for TokenReview');
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new KubernetesLoginError('review_failed', `TokenReview was refused with HTTP ${res.status}: check token_reviewer_jwt and that its service account may create tokenreviews (system:auth-delegator)`);
    }
    if (res.status !== 201 && res.status !== 200) {
      await res.body?.cancel();
      throw new KubernetesLoginError('review_unavailable', `TokenReview answered HTTP ${res.status}`);
    }
    let status: TokenReviewStatus;
    try {
      status = (((await res.json()) as { status?: TokenReviewStatus }).status ?? {}) as TokenReviewStatus;
    } catch {
      throw new KubernetesLoginError('review_unavailable', 'TokenReview answered malformed JSON');
    }
    if (status.authenticated !== true) throw new KubernetesLoginError('invalid_token', 'the API server did not authenticate the token');
    if (role.audience && !(Array.isArray(status.audiences) && status.audiences.includes(role.audience))) {
      throw new KubernetesLoginError('invalid_token', 'the token is not valid for the role audience');
    }
    const reviewed = serviceAccountOfUsername(status.user?.username);
    if (!reviewed) throw new KubernetesLoginError('invalid_token', 'the token is not a service-account token');
    const k8s = claims['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
    const namespace = k8s?.namespace ?? claims['kubernetes.io/serviceaccount/namespace'];
    const name = k8s?.serviceaccount?.name ?? claims['kubernetes.io/serviceaccount/service-account.name'];
    if (namespace !== reviewed.namespace || name !== reviewed.name) {
      throw new KubernetesLoginError('invalid_token', 'the token claims do not match the reviewed service account');
    }
    checkBound(role, reviewed);
    return { ...reviewed, uid: typeof status.user?.uid === 'string' ? status.user.uid : '' };
  };
}
