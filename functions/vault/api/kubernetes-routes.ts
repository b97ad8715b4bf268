// auth/kubernetes: config, roles and login (the login path needs no token). Config and role
// rows carry a row MAC; the TokenReview bearer token is stored encrypted under a DEK of the
// `secret/` mount's KEK (context below), never in clear. A role without `audience` logs nobody
// in unless the config sets allow_roles_without_audience.
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
import { readFile } from 'node:fs/promises';
import { eq } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { aad, open, seal } from '#functions/vault/core/envelope';
import type { MacValue } from '#functions/vault/core/integrity';
import { parseDuration } from '#functions/vault/core/duration';
import { VaultError, invalidRequest, notFoundError, permissionDenied } from '#functions/vault/core/errors';
import type { RowMacSource } from '#functions/vault/core/integrity';
import {
  checkIssuerUrl,
  kubernetesConfigSchema,
  KubernetesLoginError,
  kubernetesRoleSchema,
  type KubernetesConfig,
  type KubernetesRole,
} from '#functions/vault/core/kubernetes';
import { deleteKubernetesRole, listKubernetesRoles, readKubernetesRole, writeKubernetesRole } from '#functions/vault/core/kubernetes-roles';
import { rememberGone } from '#functions/vault/core/row-seq';
import { kubernetesConfig } from '#functions/vault/core/schema';
import { DEFAULT_TOKEN_TTL, insertToken } from '#functions/vault/core/tokens';
import { assertNoNul } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import { createServiceAccountVerifier } from './service-account-verifier.js';
import { createTokenReviewer } from './token-review.js';
import type { VaultRoute } from './route.js';
import { authBlock } from './token-routes.js';
import type { UnsealerClient } from './unsealer-client.js';

/** Where the reviewer JWT's DEK is wrapped: the KV mount's KEK, under its own context. */
const REVIEWER_MOUNT = 'secret/';
const REVIEWER_CONTEXT = 'auth/kubernetes/config/token_reviewer_jwt';
/** The pod's own service-account token, as Kubernetes mounts it (re-read at each review: it rotates). */
const LOCAL_SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const configMacFields = (settings: Record<string, unknown>): MacValue[] => [1, settings];

interface StoredConfig extends Omit<KubernetesConfig, 'token_reviewer_jwt'> {
  /** The reviewer JWT: AES-256-GCM under a DEK, and the DEK wrapped by the mount KEK (base64). */
  token_reviewer_jwt_sealed?: { wrapped: string; ciphertext: string };
}

const ROLE = /^[A-Za-z0-9_.-]{1,128}$/;

function roleFrom(settings: Record<string, unknown>): KubernetesRole {
  return {
    boundServiceAccountNames: settings.bound_service_account_names as string[],
    boundServiceAccountNamespaces: settings.bound_service_account_namespaces as string[],
    audience: settings.audience as string | undefined,
    policies: settings.token_policies as string[],
    ttlSeconds: settings.token_ttl as number,
    maxTtlSeconds: settings.token_max_ttl as number,
  };
}

export function kubernetesRoutes(database: Database, unsealer: UnsealerClient): VaultRoute[] {
  const rowMac: RowMacSource = () => unsealer.rowMac();
  const db = database.db;
  // One verifier per configuration, so jose's JWKS cache survives between logins.
  let verifier: { key: string; verify: ReturnType<typeof createServiceAccountVerifier> } | undefined;
  let reviewer: { key: string; review: ReturnType<typeof createTokenReviewer> } | undefined;

  const loadConfig = async (): Promise<StoredConfig> => {
    const [row] = await db.select().from(kubernetesConfig).where(eq(kubernetesConfig.id, 1));
    if (!row) throw invalidRequest('could not load backend configuration');
    (await unsealer.rowMac()).check('kubernetes_config', configMacFields(row.settings), row.mac);
    return row.settings as unknown as StoredConfig;
  };

  const loadRole = async (name: string) => {
    if (!ROLE.test(name)) return undefined;
    return readKubernetesRole(db, await unsealer.rowMac(), name);
  };

  const sealReviewerJwt = async (jwt: string) => {
    const { dek, wrapped } = await unsealer.newDek(REVIEWER_MOUNT, REVIEWER_CONTEXT);
    try {
      const ciphertext = seal(dek, Buffer.from(jwt, 'utf8'), aad.data(REVIEWER_MOUNT, REVIEWER_CONTEXT));
      return { wrapped: wrapped.toString('base64'), ciphertext: ciphertext.toString('base64') };
    } finally {
      dek.fill(0);
    }
  };

  /** The bearer of TokenReview calls: the configured reviewer JWT, else the pod's own, else the client's (as Vault). */
  const reviewerJwt = async (config: StoredConfig, clientJwt: string): Promise<string> => {
    const sealed = config.token_reviewer_jwt_sealed;
    if (sealed) {
      const dek = await unsealer.unwrapDek(REVIEWER_MOUNT, REVIEWER_CONTEXT, Buffer.from(sealed.wrapped, 'base64'));
      try {
        return open(dek, Buffer.from(sealed.ciphertext, 'base64'), aad.data(REVIEWER_MOUNT, REVIEWER_CONTEXT)).toString('utf8');
      } finally {
        dek.fill(0);
      }
    }
    if (!config.disable_local_ca_jwt) {
      const local = await readFile(LOCAL_SA_TOKEN, 'utf8').catch(() => undefined);
      if (local?.trim()) return local.trim();
    }
    return clientJwt;
  };

  return [
    {
      pattern: /^auth\/kubernetes\/config$/,
      handlers: {
        read: async (req) => {
          const { token_reviewer_jwt_sealed: sealed, ...c } = await loadConfig();
          return ok(req, { data: { ...c, kubernetes_ca_cert: c.kubernetes_ca_cert ?? '', token_reviewer_jwt_set: !!sealed } });
        },
        update: async (req) => {
          assertNoNul(req.body, 'config');
          const parsed = kubernetesConfigSchema.safeParse(req.body);
          if (!parsed.success) throw invalidRequest(`invalid kubernetes config: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
          try {
            checkIssuerUrl(parsed.data.issuer ?? parsed.data.kubernetes_host);
            if (parsed.data.jwks_url) checkIssuerUrl(parsed.data.jwks_url);
          } catch (err) {
            throw invalidRequest((err as Error).message);
          }
          const { token_reviewer_jwt: reviewerJwtText, ...rest } = parsed.data;
          const settings: Record<string, unknown> = { ...rest, ...(reviewerJwtText ? { token_reviewer_jwt_sealed: await sealReviewerJwt(reviewerJwtText) } : {}) };
          const mac = (await unsealer.rowMac()).sign('kubernetes_config', configMacFields(settings));
          await db
            .insert(kubernetesConfig)
            .values({ id: 1, settings, mac })
            .onConflictDoUpdate({ target: kubernetesConfig.id, set: { settings, mac } });
          verifier = undefined;
          reviewer = undefined;
          return done();
        },
      },
    },
    {
      pattern: /^auth\/kubernetes\/role$/,
      handlers: {
        list: async (req) => {
          const keys = await listKubernetesRoles(db);
          if (keys.length === 0) throw notFoundError();
          return ok(req, { data: { keys } });
        },
      },
    },
    {
      pattern: /^auth\/kubernetes\/role\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const settings = await loadRole(m[1]!);
          if (!settings) throw notFoundError();
          return ok(req, { data: settings });
        },
        update: async (req, m) => {
          const name = m[1]!;
          if (!ROLE.test(name)) throw invalidRequest('invalid role name');
          assertNoNul(req.body, 'role');
          const parsed = kubernetesRoleSchema.safeParse(req.body);
          if (!parsed.success) throw invalidRequest(`invalid role: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
          const r = parsed.data;
          const ttl = parseDuration(r.token_ttl ?? r.ttl ?? 0);
          const maxTtl = parseDuration(r.token_max_ttl ?? 0);
          if (ttl === undefined || maxTtl === undefined) throw invalidRequest('invalid token_ttl or token_max_ttl');
          const policies = [...new Set(r.token_policies ?? r.policies ?? [])];
          if (!policies.every((p) => /^[A-Za-z0-9_.@-]{1,128}$/.test(p))) throw invalidRequest('invalid policy name');
          const settings = {
            bound_service_account_names: r.bound_service_account_names,
            bound_service_account_namespaces: r.bound_service_account_namespaces,
            audience: r.audience,
            token_policies: policies,
            token_ttl: ttl,
            token_max_ttl: maxTtl,
          };
          await writeKubernetesRole(db, await unsealer.rowMac(), name, settings);
          return done();
        },
        delete: async (_req, m) => {
          rememberGone(await unsealer.rowMac(), await deleteKubernetesRole(db, m[1]!));
          return done();
        },
      },
    },
    {
      pattern: /^auth\/kubernetes\/login$/,
      unauthenticated: true,
      handlers: {
        update: async (req) => {
          const { role: roleName, jwt } = req.body;
          if (typeof roleName !== 'string' || roleName === '') throw invalidRequest('missing role');
          if (typeof jwt !== 'string' || jwt === '' || jwt.length > 16 * 1024) throw invalidRequest('missing jwt');
          const settings = await loadRole(roleName);
          if (!settings) throw invalidRequest(`invalid role name "${roleName.slice(0, 128)}"`);
          const config = await loadConfig();
          const role = roleFrom(settings);
          if (!role.audience && !config.allow_roles_without_audience) {
            throw invalidRequest(`role "${roleName}" has no audience: set audience on the role, or allow_roles_without_audience on auth/kubernetes/config`);
          }
          const key = JSON.stringify(config);
          let sa;
          try {
            if (config.use_token_review !== false) {
              if (reviewer?.key !== key) reviewer = { key, review: createTokenReviewer(config as KubernetesConfig) };
              sa = await reviewer.review(jwt, role, await reviewerJwt(config, jwt));
            } else {
              if (verifier?.key !== key) verifier = { key, verify: createServiceAccountVerifier(config as KubernetesConfig) };
              sa = await verifier.verify(jwt, role);
            }
          } catch (err) {
            if (!(err instanceof KubernetesLoginError)) throw err;
            if (err.code === 'review_unavailable') throw new VaultError(503, 'token_review_unavailable', [err.message]);
            if (err.code === 'review_failed') throw new VaultError(502, 'token_review_failed', [err.message]);
            throw permissionDenied();
          }
          let ttl = role.ttlSeconds > 0 ? role.ttlSeconds : DEFAULT_TOKEN_TTL;
          if (role.maxTtlSeconds > 0) ttl = Math.min(ttl, role.maxTtlSeconds);
          const policies = role.policies.includes('default') ? role.policies : [...role.policies, 'default'];
          const meta = { role: roleName, service_account_name: sa.name, service_account_namespace: sa.namespace, service_account_uid: sa.uid, service_account_secret_name: '' };
          const { token, row: tokenRow } = await insertToken(db, await rowMac(), {
            policies,
            displayName: `kubernetes-${sa.namespace}-${sa.name}`.slice(0, 128),
            path: 'auth/kubernetes/login',
            parentAccessor: null,
            ttlSeconds: ttl,
            explicitMaxTtlSeconds: role.maxTtlSeconds,
            meta,
          });
          return ok(req, { auth: authBlock(tokenRow, token, role.policies) });
        },
      },
    },
  ];
}
