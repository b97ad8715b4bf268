// sys/auth: the auth methods, in Vault's listing shape. They are built in, each at its default
// path, and always enabled: enabling one again or disabling one is refused with a clear 400.
// @see https://developer.hashicorp.com/vault/api-docs/system/auth
import { createHash } from 'node:crypto';
import { invalidRequest } from '#functions/vault/core/errors';
import { ok } from './pipeline.js';
import type { VaultRoute } from './route.js';

const METHODS = [
  { type: 'token', description: 'token based credentials' },
  { type: 'kubernetes', description: 'Kubernetes service-account login' },
  { type: 'approle', description: 'AppRole: role id and secret id login' },
  { type: 'userpass', description: 'username and password login' },
  { type: 'jwt', description: 'JWT login (OIDC discovery, JWKS or public keys)' },
] as const;

/** Stable identifiers of a built-in mount (Vault generates them at mount time). */
function ids(type: string) {
  const h = createHash('sha256').update(`zenokube/vault/auth/${type}`).digest('hex');
  return { accessor: `auth_${type}_${h.slice(0, 8)}`, uuid: `${h.slice(8, 16)}-${h.slice(16, 20)}-${h.slice(20, 24)}-${h.slice(24, 28)}-${h.slice(28, 40)}` };
}

function listing(): Record<string, unknown> {
  return Object.fromEntries(
    METHODS.map((m) => [
      `${m.type}/`,
      {
        ...ids(m.type),
        type: m.type,
        description: m.description,
        config: { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false, ...(m.type === 'token' ? { token_type: 'default-service' } : {}) },
        external_entropy_access: false,
        local: false,
        options: null,
        plugin_version: '',
        running_plugin_version: '',
        running_sha256: '',
        seal_wrap: false,
      },
    ]),
  );
}

export function sysAuthRoutes(): VaultRoute[] {
  return [
    {
      pattern: /^sys\/auth$/,
      readsOnly: true,
      handlers: {
        read: async (req) => {
          const data = listing();
          // Vault answers the mounts both at the top level (older clients) and under `data`.
          const res = ok(req, { data });
          return { ...res, body: { ...data, ...res.body } };
        },
      },
    },
    {
      pattern: /^sys\/auth\/(.+)$/,
      sudo: true,
      handlers: {
        update: async (_req, m) => {
          const path = m[1]!.replace(/\/*$/, '/');
          if (METHODS.some((x) => `${x.type}/` === path)) throw invalidRequest(`path is already in use at ${path}`);
          throw invalidRequest('auth methods are built in at token/, kubernetes/, approle/, userpass/ and jwt/; others cannot be enabled');
        },
        delete: async () => {
          throw invalidRequest('built-in auth methods cannot be disabled');
        },
      },
    },
  ];
}
