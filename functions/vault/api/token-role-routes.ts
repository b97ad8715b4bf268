// Token roles: auth/token/roles/:name (create or update, read, delete) and the list. A write
// changes only the fields it gives, as Vault's does. Features this vault does not implement
// (glob policy lists, entity aliases, CIDR binding, batch tokens) are refused when set, never ignored.
// @see https://developer.hashicorp.com/vault/api-docs/auth/token#create-update-token-role
import type { Database } from '#shared/db/index';
import { parseDuration } from '#functions/vault/core/duration';
import { invalidRequest, notFoundError } from '#functions/vault/core/errors';
import type { RowMac } from '#functions/vault/core/integrity';
import { deleteRole, getRole, listRoles, putRole, ROLE_NAME, sanitizePolicies, type RoleSettings } from '#functions/vault/core/token-roles';
import { DEFAULT_TOKEN_TTL } from '#functions/vault/core/tokens';
import { boolField, intField } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultRoute } from './route.js';

const POLICY_NAME = /^[A-Za-z0-9_.@-]{1,128}$/;
const PATH_SUFFIX = /^[\w.-]+(?:\/[\w.-]+)*$/;
const UNSUPPORTED = ['allowed_entity_aliases', 'allowed_policies_glob', 'disallowed_policies_glob', 'token_bound_cidrs', 'bound_cidrs'] as const;

function roleName(raw: string): string {
  if (!ROLE_NAME.test(raw)) throw invalidRequest('invalid role name');
  return raw;
}

/** A list field: a JSON array of strings or a comma-separated string. */
function listField(body: Record<string, unknown>, key: string): string[] | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? v.split(',') : v;
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw invalidRequest(`${key} must be a list of strings`);
  return list.map((x) => x.trim()).filter((x) => x !== '');
}

function policyList(body: Record<string, unknown>, key: string): string[] | undefined {
  const list = listField(body, key);
  if (list && !list.every((p) => POLICY_NAME.test(p))) throw invalidRequest(`${key} must be a list of policy names`);
  return list ? sanitizePolicies(list, false) : undefined;
}

/** A duration field (seconds or Go-style text), first of `keys` present; bounded by the system max TTL. */
function durationField(body: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const v = body[key];
    if (v === undefined || v === null || v === '') continue;
    const seconds = parseDuration(v);
    if (seconds === undefined) throw invalidRequest(`invalid ${key}: a non-negative duration is required`);
    if (seconds > DEFAULT_TOKEN_TTL) throw invalidRequest(`${key} must not exceed the system max TTL of ${DEFAULT_TOKEN_TTL}s`);
    return seconds;
  }
  return undefined;
}

const DEFAULTS: Omit<RoleSettings, 'name'> = {
  allowedPolicies: [],
  disallowedPolicies: [],
  orphan: false,
  renewable: true,
  pathSuffix: '',
  tokenPeriodSeconds: 0,
  tokenExplicitMaxTtlSeconds: 0,
  tokenNoDefaultPolicy: false,
  tokenNumUses: 0,
};

/** The role after a write: the stored one (or the defaults) with the given fields changed. */
function applyWrite(current: RoleSettings, b: Record<string, unknown>): RoleSettings {
  for (const key of UNSUPPORTED) {
    const v = listField(b, key);
    if (v && v.length > 0) throw invalidRequest(`${key} is not supported by this vault`);
  }
  const type = b.token_type;
  if (type !== undefined && type !== null && type !== '' && !['service', 'default-service', 'default'].includes(type as string)) {
    throw invalidRequest(`token_type ${JSON.stringify(String(type).slice(0, 32))} is not supported: only service tokens are`);
  }
  const next = { ...current };
  const allowed = policyList(b, 'allowed_policies');
  if (allowed) next.allowedPolicies = allowed;
  const disallowed = policyList(b, 'disallowed_policies');
  if (disallowed) next.disallowedPolicies = disallowed;
  next.orphan = boolField(b, 'orphan') ?? next.orphan;
  next.renewable = boolField(b, 'renewable') ?? next.renewable;
  next.tokenNoDefaultPolicy = boolField(b, 'token_no_default_policy') ?? next.tokenNoDefaultPolicy;
  const uses = intField(b, 'token_num_uses');
  if (uses !== undefined) {
    if (uses < 0) throw invalidRequest('token_num_uses cannot be negative');
    next.tokenNumUses = uses;
  }
  const suffix = b.path_suffix;
  if (suffix !== undefined && suffix !== null) {
    if (typeof suffix !== 'string') throw invalidRequest('path_suffix must be a string');
    // Vault: "error registering path suffix: path cannot contain parent references".
    if (suffix.includes('..')) throw invalidRequest('error registering path suffix: path cannot contain parent references');
    if (suffix !== '' && (suffix.length > 128 || !PATH_SUFFIX.test(suffix))) throw invalidRequest('invalid path_suffix');
    next.pathSuffix = suffix;
  }
  next.tokenPeriodSeconds = durationField(b, 'token_period', 'period') ?? next.tokenPeriodSeconds;
  next.tokenExplicitMaxTtlSeconds = durationField(b, 'token_explicit_max_ttl', 'explicit_max_ttl') ?? next.tokenExplicitMaxTtlSeconds;
  return next;
}

/** Vault's read of a role. */
function roleData(r: RoleSettings) {
  return {
    name: r.name,
    allowed_policies: r.allowedPolicies,
    allowed_policies_glob: [],
    disallowed_policies: r.disallowedPolicies,
    disallowed_policies_glob: [],
    allowed_entity_aliases: [],
    orphan: r.orphan,
    renewable: r.renewable,
    path_suffix: r.pathSuffix,
    token_period: r.tokenPeriodSeconds,
    period: r.tokenPeriodSeconds,
    token_explicit_max_ttl: r.tokenExplicitMaxTtlSeconds,
    explicit_max_ttl: r.tokenExplicitMaxTtlSeconds,
    token_no_default_policy: r.tokenNoDefaultPolicy,
    token_num_uses: r.tokenNumUses,
    token_bound_cidrs: [],
    token_type: 'default-service',
  };
}

export function tokenRoleRoutes(database: Database, unsealer: { rowMac(): Promise<RowMac> }): VaultRoute[] {
  const db = database.db;

  const write = async (req: VaultRequest, name: string) => {
    const mac = await unsealer.rowMac();
    const current = (await getRole(db, mac, name)) ?? { name, ...DEFAULTS };
    await putRole(db, mac, applyWrite(current, req.body));
    return done();
  };

  return [
    {
      pattern: /^auth\/token\/roles$/,
      readsOnly: true,
      handlers: {
        list: async (req) => {
          const keys = await listRoles(db);
          if (keys.length === 0) throw notFoundError();
          return ok(req, { data: { keys } });
        },
      },
    },
    {
      pattern: /^auth\/token\/roles\/([^/]+)$/,
      readsOnly: true,
      handlers: {
        read: async (req, m) => {
          const role = await getRole(db, await unsealer.rowMac(), roleName(m[1]!));
          if (!role) throw notFoundError();
          return ok(req, { data: roleData(role) });
        },
        update: (req, m) => write(req, roleName(m[1]!)),
        delete: async (_req, m) => {
          await deleteRole(db, await unsealer.rowMac(), roleName(m[1]!));
          return done();
        },
      },
    },
  ];
}
