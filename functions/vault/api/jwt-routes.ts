// auth/jwt: config, roles and login with a signed JWT (the login path needs no token). Keys come
// from OIDC discovery ({url}/.well-known/openid-configuration → jwks_uri, its issuer required to
// be the URL), a JWKS URL, or PEM public keys; jose verifies signature, algorithm (asymmetric
// only), issuer, audience and times; the role's bound subject and claims are checked after.
// ZenoAuth's access tokens (EdDSA, at+jwt) and ID tokens (RS256) log in through its discovery.
// @see https://developer.hashicorp.com/vault/api-docs/auth/jwt
// @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
import { createPublicKey, type KeyObject } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Database } from '#shared/db/index';
import { VaultError, invalidRequest, notFoundError } from '#functions/vault/core/errors';
import {
  ASYMMETRIC_ALGS,
  claimsMismatch,
  deleteJwtRole,
  groupPolicies,
  loginClaims,
  parseJwtConfig,
  parseJwtRole,
  readJwtConfig,
  readJwtRole,
  ROLE_NAME,
  writeJwtConfig,
  writeJwtRole,
  type JwtConfig,
  type JwtRole,
} from '#functions/vault/core/jwt-auth';
import { checkIssuerUrl } from '#functions/vault/core/kubernetes';
import { rememberGone } from '#functions/vault/core/row-seq';
import { jwtRoles } from '#functions/vault/core/schema';
import { issueLoginToken, tokenSettingsData } from '#functions/vault/core/token-settings';
import { assertNoNul } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRoute } from './route.js';
import { authBlock } from './token-routes.js';
import type { UnsealerClient } from './unsealer-client.js';

const MAX_JWT = 16 * 1024;

class KeySourceError extends Error {}

interface Verifier {
  /** The issuer every token must carry: bound_issuer, else the discovery document's issuer. */
  issuer: string | undefined;
  keys: JWTVerifyGetKey | KeyObject[];
}

function fetcher(caPem: string) {
  const agent = caPem ? new Agent({ connect: { ca: caPem } }) : undefined;
  const get = (u: string) =>
    undiciFetch(u, { ...(agent ? { dispatcher: agent } : {}), signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
  const jwksOptions = agent
    ? { [customFetch]: (u: string, init: RequestInit) => undiciFetch(u, { ...(init as object), dispatcher: agent }) as unknown as Promise<Response> }
    : {};
  return { get, jwksOptions };
}

/** Fetches the discovery document; its issuer must be the configured URL (OIDC Discovery §4.3). */
async function discover(config: JwtConfig): Promise<{ issuer: string; jwksUri: string }> {
  const base = config.oidc_discovery_url.replace(/\/+$/, '');
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetcher(config.oidc_discovery_ca_pem).get(`${base}/.well-known/openid-configuration`);
    if (!res.ok) throw new KeySourceError(`OIDC discovery answered HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (err) {
    if (err instanceof KeySourceError) throw err;
    throw new KeySourceError('OIDC discovery failed: the provider could not be reached or answered malformed JSON');
  }
  if (typeof doc.issuer !== 'string' || doc.issuer.replace(/\/+$/, '') !== base) throw new KeySourceError('OIDC discovery: the issuer does not match the discovery URL');
  if (typeof doc.jwks_uri !== 'string') throw new KeySourceError('OIDC discovery: no jwks_uri');
  try {
    checkIssuerUrl(doc.jwks_uri);
  } catch {
    throw new KeySourceError('OIDC discovery: jwks_uri must use https');
  }
  return { issuer: doc.issuer, jwksUri: doc.jwks_uri };
}

async function buildVerifier(config: JwtConfig): Promise<Verifier> {
  const remote = { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 };
  if (config.jwt_validation_pubkeys.length > 0) {
    return { issuer: config.bound_issuer || undefined, keys: config.jwt_validation_pubkeys.map((pem) => createPublicKey(pem)) };
  }
  if (config.jwks_url) {
    const { jwksOptions } = fetcher(config.jwks_ca_pem);
    return { issuer: config.bound_issuer || undefined, keys: createRemoteJWKSet(new URL(config.jwks_url), { ...remote, ...jwksOptions }) };
  }
  const { issuer, jwksUri } = await discover(config);
  const { jwksOptions } = fetcher(config.oidc_discovery_ca_pem);
  return { issuer: config.bound_issuer || issuer, keys: createRemoteJWKSet(new URL(jwksUri), { ...remote, ...jwksOptions }) };
}

function roleData(r: JwtRole) {
  const { token_policies: _p, token_ttl: _t, token_max_ttl: _m, token_explicit_max_ttl: _e, token_num_uses: _n, token_bound_cidrs: _b, token_no_default_policy: _d, ...rest } = r;
  return { ...rest, ...tokenSettingsData(r) };
}

const rejected = (why: string) => invalidRequest(`error validating token: ${why}`);

export function jwtRoutes(database: Database, unsealer: UnsealerClient): VaultRoute[] {
  const db = database.db;
  // One verifier per configuration, so jose's JWKS cache survives between logins.
  let cached: { key: string; verifier: Promise<Verifier> } | undefined;

  const verifierFor = (config: JwtConfig): Promise<Verifier> => {
    const key = JSON.stringify(config);
    if (cached?.key !== key) {
      const verifier = buildVerifier(config);
      cached = { key, verifier };
      // A failed discovery is retried at the next login, not cached.
      verifier.catch(() => {
        if (cached?.verifier === verifier) cached = undefined;
      });
    }
    return cached.verifier;
  };

  const verify = async (config: JwtConfig, role: JwtRole, jwt: string): Promise<JWTPayload> => {
    let v: Verifier;
    try {
      v = await verifierFor(config);
    } catch (err) {
      if (err instanceof KeySourceError) throw new VaultError(400, 'key_source_failed', [`error validating token: ${err.message}`]);
      throw err;
    }
    const options = {
      algorithms: config.jwt_supported_algs.length > 0 ? config.jwt_supported_algs : [...ASYMMETRIC_ALGS],
      audience: role.bound_audiences,
      clockTolerance: role.clock_skew_leeway,
      requiredClaims: ['exp'],
      ...(v.issuer ? { issuer: v.issuer } : {}),
    };
    const explain = (err: unknown) => {
      // The issuer's keys could not be fetched: the provider's fault, worth a retry.
      if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
        return new VaultError(503, 'keys_unavailable', ['error validating token: the issuer keys could not be fetched']);
      }
      if (err instanceof joseErrors.JWTClaimValidationFailed) return rejected(`${err.claim} claim is invalid (${err.reason})`);
      if (err instanceof joseErrors.JWTExpired) return rejected('token is expired');
      return rejected(err.code);
    };
    if (Array.isArray(v.keys)) {
      let last: unknown;
      for (const key of v.keys) {
        try {
          return (await jwtVerify(jwt, key, options)).payload;
        } catch (err) {
          last = err;
          // Only a key that did not verify the signature is worth trying the next one for.
          if (!(err instanceof joseErrors.JWSSignatureVerificationFailed) && !(err instanceof joseErrors.JOSENotSupported) && !(err instanceof TypeError)) break;
        }
      }
      // A key of another type than the token's algorithm is a verification failure, not an outage.
      throw last instanceof joseErrors.JOSEError ? explain(last) : rejected('no configured key verifies the signature');
    }
    try {
      return (await jwtVerify(jwt, v.keys, options)).payload;
    } catch (err) {
      throw explain(err);
    }
  };

  return [
    {
      pattern: /^auth\/jwt\/config$/,
      handlers: {
        read: async (req) => {
          const c = await readJwtConfig(db, await unsealer.rowMac());
          if (!c) throw notFoundError();
          return ok(req, { data: c });
        },
        update: async (req) => {
          assertNoNul(req.body, 'config');
          const config = parseJwtConfig(req.body);
          // As Vault does: a discovery URL that does not answer is refused at write time.
          if (config.oidc_discovery_url) {
            try {
              await discover(config);
            } catch (err) {
              if (err instanceof KeySourceError) throw invalidRequest(`error checking oidc discovery URL: ${err.message}`);
              throw err;
            }
          }
          await writeJwtConfig(db, await unsealer.rowMac(), config);
          cached = undefined;
          return done();
        },
      },
    },
    {
      pattern: /^auth\/jwt\/role$/,
      handlers: {
        list: async (req) => {
          const rows = await db.select({ name: jwtRoles.name }).from(jwtRoles).orderBy(asc(jwtRoles.name));
          if (rows.length === 0) throw notFoundError();
          return ok(req, { data: { keys: rows.map((r) => r.name) } });
        },
      },
    },
    {
      pattern: /^auth\/jwt\/role\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const r = await readJwtRole(db, await unsealer.rowMac(), m[1]!);
          if (!r) throw notFoundError();
          return ok(req, { data: roleData(r) });
        },
        update: async (req, m) => {
          const name = m[1]!;
          if (!ROLE_NAME.test(name)) throw invalidRequest('invalid role name');
          assertNoNul(req.body, 'role');
          await database.transaction(async (tx) => {
            const mac = await unsealer.rowMac();
            const role = parseJwtRole(req.body, await readJwtRole(tx, mac, name));
            await writeJwtRole(tx, mac, name, role);
          });
          return done();
        },
        delete: async (_req, m) => {
          rememberGone(await unsealer.rowMac(), await deleteJwtRole(db, m[1]!));
          return done();
        },
      },
    },
    {
      pattern: /^auth\/jwt\/login$/,
      unauthenticated: true,
      handlers: {
        update: async (req) => {
          const { jwt } = req.body;
          if (typeof jwt !== 'string' || jwt === '') throw invalidRequest('missing token');
          if (jwt.length > MAX_JWT) throw rejected('token too large');
          const mac = await unsealer.rowMac();
          const config = await readJwtConfig(db, mac);
          if (!config) throw invalidRequest('could not load configuration');
          if (req.body.role !== undefined && typeof req.body.role !== 'string') throw invalidRequest('role must be a string');
          const roleName = typeof req.body.role === 'string' && req.body.role !== '' ? req.body.role : config.default_role;
          if (!roleName) throw invalidRequest('missing role');
          const role = await readJwtRole(db, mac, roleName);
          if (!role) throw invalidRequest(`role "${roleName.slice(0, 128)}" could not be found`);
          const claims = await verify(config, role, jwt);
          const mismatch = claimsMismatch(role, claims);
          if (mismatch) throw rejected(mismatch);
          const { user, groups, metadata } = loginClaims(role, claims);
          const issued = await issueLoginToken(db, await unsealer.rowMac(), {
            settings: role,
            extraPolicies: groupPolicies(role, groups),
            displayName: `jwt-${user}`,
            path: 'auth/jwt/login',
            meta: { ...metadata, role: roleName },
          });
          return ok(req, { auth: authBlock(issued.row, issued.token, issued.tokenPolicies) });
        },
      },
    },
  ];
}
