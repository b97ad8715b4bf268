// auth/kubernetes: config, roles and login (the login path needs no token).
// @see https://developer.hashicorp.com/vault/api-docs/auth/kubernetes
import { asc, eq } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { parseDuration } from '#functions/vault/core/duration';
import { invalidRequest, notFoundError, permissionDenied } from '#functions/vault/core/errors';
import type { RowMacSource } from '#functions/vault/core/integrity';
import {
  checkIssuerUrl,
  kubernetesConfigSchema,
  KubernetesLoginError,
  kubernetesRoleSchema,
  type KubernetesConfig,
  type KubernetesRole,
} from '#functions/vault/core/kubernetes';
import { kubernetesConfig, kubernetesRoles } from '#functions/vault/core/schema';
import { DEFAULT_TOKEN_TTL, insertToken } from '#functions/vault/core/tokens';
import { assertNoNul } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import { createServiceAccountVerifier } from './service-account-verifier.js';
import type { VaultRoute } from './route.js';
import { authBlock } from './token-routes.js';

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

export function kubernetesRoutes(database: Database, rowMac: RowMacSource): VaultRoute[] {
  const db = database.db;
  // One verifier per configuration, so jose's JWKS cache survives between logins.
  let verifier: { key: string; verify: ReturnType<typeof createServiceAccountVerifier> } | undefined;

  const loadConfig = async (): Promise<KubernetesConfig> => {
    const [row] = await db.select().from(kubernetesConfig).where(eq(kubernetesConfig.id, 1));
    if (!row) throw invalidRequest('could not load backend configuration');
    return row.settings as KubernetesConfig;
  };

  return [
    {
      pattern: /^auth\/kubernetes\/config$/,
      handlers: {
        read: async (req) => {
          const c = await loadConfig();
          return ok(req, { data: { ...c, kubernetes_ca_cert: c.kubernetes_ca_cert ?? '' } });
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
          await db
            .insert(kubernetesConfig)
            .values({ id: 1, settings: parsed.data })
            .onConflictDoUpdate({ target: kubernetesConfig.id, set: { settings: parsed.data } });
          verifier = undefined;
          return done();
        },
      },
    },
    {
      pattern: /^auth\/kubernetes\/role$/,
      handlers: {
        list: async (req) => {
          const rows = await db.select({ name: kubernetesRoles.name }).from(kubernetesRoles).orderBy(asc(kubernetesRoles.name));
          if (rows.length === 0) throw notFoundError();
          return ok(req, { data: { keys: rows.map((r) => r.name) } });
        },
      },
    },
    {
      pattern: /^auth\/kubernetes\/role\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const [row] = await db.select().from(kubernetesRoles).where(eq(kubernetesRoles.name, m[1]!));
          if (!row) throw notFoundError();
          return ok(req, { data: row.settings });
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
          await db.insert(kubernetesRoles).values({ name, settings }).onConflictDoUpdate({ target: kubernetesRoles.name, set: { settings } });
          return done();
        },
        delete: async (_req, m) => {
          await db.delete(kubernetesRoles).where(eq(kubernetesRoles.name, m[1]!));
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
          const [row] = ROLE.test(roleName) ? await db.select().from(kubernetesRoles).where(eq(kubernetesRoles.name, roleName)) : [];
          if (!row) throw invalidRequest(`invalid role name "${roleName}"`);
          const config = await loadConfig();
          const key = JSON.stringify(config);
          if (verifier?.key !== key) verifier = { key, verify: createServiceAccountVerifier(config) };
          const role = roleFrom(row.settings);
          let sa;
          try {
            sa = await verifier.verify(jwt, role);
          } catch (err) {
            if (err instanceof KubernetesLoginError) throw permissionDenied();
            throw err;
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
