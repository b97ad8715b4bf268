// The token fields every auth method's roles and users share (Vault's tokenutil): policies,
// TTLs, use limit and bound CIDRs of the tokens a login issues, and issuing that token.
// @see https://developer.hashicorp.com/vault/api-docs/auth/approle#token_ttl (the same fields on every method)
import type { Queryable } from '#shared/db/index';
import type { RowMac } from './integrity.js';
import { parseCidrList } from './cidr.js';
import { parseDuration } from './duration.js';
import { invalidRequest } from './errors.js';
import type { Token } from './schema.js';
import { DEFAULT_TOKEN_TTL, insertToken } from './tokens.js';
import { INT32_MAX } from './wire.js';

export interface TokenSettings {
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  token_explicit_max_ttl: number;
  token_num_uses: number;
  token_bound_cidrs: string[];
  token_no_default_policy: boolean;
}

const NO_TOKEN_SETTINGS: Readonly<TokenSettings> = Object.freeze({
  token_policies: [],
  token_ttl: 0,
  token_max_ttl: 0,
  token_explicit_max_ttl: 0,
  token_num_uses: 0,
  token_bound_cidrs: [],
  token_no_default_policy: false,
});

const POLICY_NAME = /^[A-Za-z0-9_.@-]{1,128}$/;

/** A list field as Vault's parser takes it: a JSON list of strings or a comma-separated string. */
export function stringList(value: unknown, field: string, max = 256): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
  if (!Array.isArray(list) || list.length > max || !list.every((x) => typeof x === 'string' && x.length <= 1024 && !x.includes('\u0000'))) {
    throw invalidRequest(`${field} must be a list of strings`);
  }
  return list as string[];
}

export function policyList(value: unknown, field: string): string[] | undefined {
  const list = stringList(value, field);
  if (list === undefined) return undefined;
  if (!list.every((p) => POLICY_NAME.test(p))) throw invalidRequest(`${field}: invalid policy name`);
  if (list.includes('root')) throw invalidRequest(`${field}: the root policy cannot be granted by a login`);
  return [...new Set(list)];
}

export function durationField(body: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const v = body[key];
    if (v === undefined || v === null || v === '') continue;
    const seconds = parseDuration(v);
    if (seconds === undefined || seconds > INT32_MAX) throw invalidRequest(`invalid ${key}`);
    return seconds;
  }
  return undefined;
}

export function countField(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n > INT32_MAX) throw invalidRequest(`${key} must be an integer`);
  if (n < 0) throw invalidRequest(`${key} cannot be negative`);
  return n;
}

export function flagField(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw invalidRequest(`${key} must be a boolean`);
}

/**
 * The token settings of a role write: fields present in `body` (with Vault's deprecated aliases
 * `policies`, `ttl`, `max_ttl`, `bound_cidrs`) replace those of `prev`, absent ones stay.
 */
export function parseTokenSettings(body: Record<string, unknown>, prev: TokenSettings = NO_TOKEN_SETTINGS): TokenSettings {
  const s: TokenSettings = {
    token_policies: policyList(body.token_policies ?? body.policies, 'token_policies') ?? prev.token_policies,
    token_ttl: durationField(body, 'token_ttl', 'ttl') ?? prev.token_ttl,
    token_max_ttl: durationField(body, 'token_max_ttl', 'max_ttl') ?? prev.token_max_ttl,
    token_explicit_max_ttl: durationField(body, 'token_explicit_max_ttl') ?? prev.token_explicit_max_ttl,
    token_num_uses: countField(body, 'token_num_uses') ?? prev.token_num_uses,
    token_bound_cidrs: parseCidrList(body.token_bound_cidrs ?? body.bound_cidrs, 'token_bound_cidrs') ?? prev.token_bound_cidrs,
    token_no_default_policy: flagField(body, 'token_no_default_policy') ?? prev.token_no_default_policy,
  };
  if (s.token_max_ttl > 0 && s.token_ttl > s.token_max_ttl) throw invalidRequest('token_ttl cannot be greater than token_max_ttl');
  const type = body.token_type;
  if (type !== undefined && type !== '' && type !== 'service' && type !== 'default' && type !== 'default-service') {
    throw invalidRequest('token_type: only service tokens are supported');
  }
  return s;
}

/** The token settings from a stored jsonb object (written by parseTokenSettings). */
export function storedTokenSettings(v: Record<string, unknown>): TokenSettings {
  return {
    token_policies: (v.token_policies as string[] | undefined) ?? [],
    token_ttl: Number(v.token_ttl ?? 0),
    token_max_ttl: Number(v.token_max_ttl ?? 0),
    token_explicit_max_ttl: Number(v.token_explicit_max_ttl ?? 0),
    token_num_uses: Number(v.token_num_uses ?? 0),
    token_bound_cidrs: (v.token_bound_cidrs as string[] | undefined) ?? [],
    token_no_default_policy: v.token_no_default_policy === true,
  };
}

/** What a read answers: Vault's field names, durations in seconds. */
export function tokenSettingsData(s: TokenSettings): Record<string, unknown> {
  return { ...s, token_type: 'default', token_period: 0, policies: s.token_policies, ttl: s.token_ttl, max_ttl: s.token_max_ttl };
}

interface LoginToken {
  settings: TokenSettings;
  /** Policies added by the login itself (e.g. from a JWT's groups), beyond token_policies. */
  extraPolicies?: string[];
  displayName: string;
  path: string;
  meta: Record<string, string>;
  /** Overrides token_bound_cidrs (AppRole: the secret id's own token_bound_cidrs). */
  boundCidrs?: string[];
}

/**
 * Issues the orphan service token of a successful login: TTL from the settings (else the system
 * default), never past the max TTL or the explicit max; `default` added unless
 * token_no_default_policy. Returns the token row, the clear token and the policies asked for.
 */
export async function issueLoginToken(db: Queryable, mac: RowMac, spec: LoginToken): Promise<{ token: string; row: Token; tokenPolicies: string[] }> {
  const s = spec.settings;
  const tokenPolicies = [...new Set([...s.token_policies, ...(spec.extraPolicies ?? [])])];
  const policies = s.token_no_default_policy || tokenPolicies.includes('default') ? tokenPolicies : [...tokenPolicies, 'default'];
  let ttl = s.token_ttl > 0 ? s.token_ttl : DEFAULT_TOKEN_TTL;
  const caps = [s.token_max_ttl, s.token_explicit_max_ttl, DEFAULT_TOKEN_TTL].filter((x) => x > 0);
  ttl = Math.min(ttl, ...caps);
  const explicitMax = s.token_explicit_max_ttl > 0 ? s.token_explicit_max_ttl : s.token_max_ttl;
  const { token, row } = await insertToken(db, mac, {
    policies,
    displayName: spec.displayName.slice(0, 128),
    path: spec.path,
    parentAccessor: null,
    ttlSeconds: ttl,
    explicitMaxTtlSeconds: explicitMax,
    numUses: s.token_num_uses,
    meta: spec.meta,
    boundCidrs: spec.boundCidrs ?? s.token_bound_cidrs,
  });
  return { token, row, tokenPolicies };
}
