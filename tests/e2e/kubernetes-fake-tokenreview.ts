// A faithful in-process fake of the parts of the Kubernetes API server that service-account
// authentication uses, for the vault's Kubernetes auth tests:
// - the service-account issuer: OIDC discovery (`/.well-known/openid-configuration`) and its JWKS
//   (`/openid/v1/jwks`), served without authentication as clusters commonly allow;
// - bound service-account tokens (TokenRequest's shape: `kubernetes.io` claims naming the
//   namespace, the service account and its uid, RS256 under the issuer key, an audience list,
//   the API server's own audience by default);
// - `POST /apis/authentication.k8s.io/v1/tokenreviews`: the caller authenticates with a bearer
//   token that must itself be a valid token for the API server's audience (else 401 and a
//   Status), must be allowed to create tokenreviews (system:auth-delegator; else 403 and a
//   Status), the body must be a TokenReview (else 400); the answer is 201 with `status`: a token
//   is authenticated only if its signature, issuer and expiry hold, its audiences meet
//   `spec.audiences` (default: the API server's), and its service account still exists with the
//   same uid (a deleted and re-created account has a new uid, so old tokens stay dead).
// Not a real API server: no other resources, no pods bound into tokens, no RBAC beyond the one
// permission. Fault hooks: stop answering (connections are refused once closed).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';

export interface FakeKubeApi {
  /** http://127.0.0.1:<port>: the API server's URL, also the issuer and its default audience. */
  readonly url: string;
  /** Creates a service account (a new uid each time); returns the uid. */
  createServiceAccount(namespace: string, name: string): string;
  deleteServiceAccount(namespace: string, name: string): void;
  /** Binds system:auth-delegator: the account may create tokenreviews. */
  grantTokenReview(namespace: string, name: string): void;
  /** A token of the account as TokenRequest issues it (audiences default to the API server's). */
  token(namespace: string, name: string, opts?: { audiences?: string[]; expiresInSeconds?: number }): Promise<string>;
  /** TokenReview requests received: the caller's username (or undefined) and the spec. */
  readonly reviews: { caller: string | undefined; spec: unknown; authenticated: boolean }[];
  close(): Promise<void>;
}

interface Account {
  uid: string;
}

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'sa-key-1', alg: 'RS256', use: 'sig' };
  const accounts = new Map<string, Account>();
  const delegators = new Set<string>();
  const reviews: FakeKubeApi['reviews'] = [];
  let url = '';
  const key = (ns: string, name: string) => `${ns}/${name}`;

  /** The TokenReview authenticator: the service account the token is valid for now, or why not. */
  const authenticate = async (token: string, audiences: string[]): Promise<{ user: { username: string; uid: string; groups: string[] }; audiences: string[] } | { error: string }> => {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, publicKey, { issuer: url, algorithms: ['RS256'] }));
    } catch {
      return { error: 'invalid bearer token' };
    }
    const tokenAud = Array.isArray(payload.aud) ? payload.aud : payload.aud ? [payload.aud] : [];
    const met = audiences.filter((a) => tokenAud.includes(a));
    if (met.length === 0) return { error: 'token audiences do not match any of the requested audiences' };
    const k8s = payload['kubernetes.io'] as { namespace: string; serviceaccount: { name: string; uid: string } };
    const account = accounts.get(key(k8s.namespace, k8s.serviceaccount.name));
    if (!account) return { error: `service account ${k8s.namespace}/${k8s.serviceaccount.name} has been deleted` };
    if (account.uid !== k8s.serviceaccount.uid) return { error: `service account UID (${k8s.serviceaccount.uid}) does not match the current one` };
    const username = `system:serviceaccount:${k8s.namespace}:${k8s.serviceaccount.name}`;
    return { user: { username, uid: account.uid, groups: ['system:serviceaccounts', `system:serviceaccounts:${k8s.namespace}`, 'system:authenticated'] }, audiences: met };
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const statusObject = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (d: Buffer) => (s += d.toString()));
      req.on('end', () => resolve(s));
    });

  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      return send(res, 200, { issuer: url, jwks_uri: `${url}/openid/v1/jwks`, response_types_supported: ['id_token'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (req.method === 'GET' && path === '/openid/v1/jwks') return send(res, 200, { keys: [jwk] });
    if (path !== '/apis/authentication.k8s.io/v1/tokenreviews') return send(res, 404, statusObject(404, 'NotFound', 'the server could not find the requested resource'));
    if (req.method !== 'POST') return send(res, 405, statusObject(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const caller = bearer ? await authenticate(bearer, [url]) : { error: 'no credentials' };
    if ('error' in caller) {
      reviews.push({ caller: undefined, spec: undefined, authenticated: false });
      return send(res, 401, statusObject(401, 'Unauthorized', 'Unauthorized'));
    }
    const text = await readBody(req);
    if (!delegators.has(caller.user.username)) {
      reviews.push({ caller: caller.user.username, spec: undefined, authenticated: false });
      return send(res, 403, statusObject(403, 'Forbidden', `tokenreviews.authentication.k8s.io is forbidden: User "${caller.user.username}" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope`));
    }
    let review: { apiVersion?: string; kind?: string; spec?: { token?: unknown; audiences?: unknown } };
    try {
      review = JSON.parse(text);
    } catch {
      return send(res, 400, statusObject(400, 'BadRequest', 'the body is not JSON'));
    }
    if (review.apiVersion !== 'authentication.k8s.io/v1' || review.kind !== 'TokenReview' || typeof review.spec?.token !== 'string') {
      return send(res, 400, statusObject(400, 'BadRequest', 'TokenReview in version "v1" cannot be handled'));
    }
    const audiences = Array.isArray(review.spec.audiences) && review.spec.audiences.length > 0 ? (review.spec.audiences as string[]) : [url];
    const result = await authenticate(review.spec.token, audiences);
    reviews.push({ caller: caller.user.username, spec: review.spec, authenticated: !('error' in result) });
    const status = 'error' in result ? { authenticated: false, user: {}, error: `[${result.error}]` } : { authenticated: true, user: result.user, audiences: result.audiences };
    send(res, 201, { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { creationTimestamp: null }, spec: review.spec, status });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    reviews,
    createServiceAccount(namespace, name) {
      const uid = randomUUID();
      accounts.set(key(namespace, name), { uid });
      return uid;
    },
    deleteServiceAccount(namespace, name) {
      accounts.delete(key(namespace, name));
    },
    grantTokenReview(namespace, name) {
      delegators.add(`system:serviceaccount:${namespace}:${name}`);
    },
    async token(namespace, name, opts = {}) {
      const account = accounts.get(key(namespace, name));
      if (!account) throw new Error(`no service account ${namespace}/${name}`);
      return new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name, uid: account.uid } } })
        .setProtectedHeader({ alg: 'RS256', kid: 'sa-key-1' })
        .setIssuer(url)
        .setSubject(`system:serviceaccount:${namespace}:${name}`)
        .setAudience(opts.audiences ?? [url])
        .setIssuedAt()
        .setNotBefore('0s')
        .setJti(randomUUID())
        .setExpirationTime(`${opts.expiresInSeconds ?? 3600}s`)
        .sign(privateKey);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
