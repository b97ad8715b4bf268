// JWT auth rules: the mount config (where keys come from: OIDC discovery, a JWKS URL or PEM
// public keys; the bound issuer; the algorithms), the roles (bound audiences, subject and claims
// with string or glob matching, claim mappings, user and groups claims, token settings), and the
// checks of a verified token's claims against a role. Fetching keys and verifying signatures is
// functions/vault/api/jwt-routes.ts.
// @see https://developer.hashicorp.com/vault/api-docs/auth/jwt
import { createPublicKey } from 'node:crypto';
import { eq, lt } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { invalidRequest } from './errors.js';
import type { RowMac } from './integrity.js';
import { checkIssuerUrl } from './kubernetes.js';
import { nextRowSeq, seqRows, type GoneRow } from './row-seq.js';
import { jwtConfig, jwtRoles } from './schema.js';
import { durationField, flagField, parseTokenSettings, policyList, storedTokenSettings, stringList, type TokenSettings } from './token-settings.js';

/** Asymmetric algorithms only: never `none`, never a shared-secret HMAC. */
export const ASYMMETRIC_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

export interface JwtConfig {
  oidc_discovery_url: string;
  oidc_discovery_ca_pem: string;
  jwks_url: string;
  jwks_ca_pem: string;
  jwt_validation_pubkeys: string[];
  bound_issuer: string;
  jwt_supported_algs: string[];
  default_role: string;
}

export interface JwtRole extends TokenSettings {
  role_type: 'jwt';
  bound_audiences: string[];
  user_claim: string;
  bound_subject: string;
  bound_claims: Record<string, string | string[]>;
  bound_claims_type: 'string' | 'glob';
  claim_mappings: Record<string, string>;
  groups_claim: string;
  /** Policies added for each value of the groups claim (this vault has no identity groups). */
  group_policies: Record<string, string[]>;
  clock_skew_leeway: number;
}

const CONFIG = 'jwt_config';
export const ROLE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

const str = (v: unknown, field: string, max = 2048): string => {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string' || v.length > max) throw invalidRequest(`${field} must be a string`);
  return v;
};

function url(v: unknown, field: string): string {
  const s = str(v, field);
  if (s === '') return '';
  try {
    checkIssuerUrl(s);
  } catch (err) {
    throw invalidRequest(`${field}: ${(err as Error).message}`);
  }
  return s;
}

/** Validates a config write; exactly one key source. */
export function parseJwtConfig(body: Record<string, unknown>): JwtConfig {
  const pubkeys = stringList(body.jwt_validation_pubkeys, 'jwt_validation_pubkeys', 64) ?? [];
  for (const pem of pubkeys) {
    try {
      const key = createPublicKey(pem);
      if (key.type !== 'public') throw new TypeError();
    } catch {
      throw invalidRequest('jwt_validation_pubkeys: each entry must be a PEM public key');
    }
  }
  const algs = stringList(body.jwt_supported_algs, 'jwt_supported_algs', 16) ?? [];
  for (const a of algs) if (!(ASYMMETRIC_ALGS as readonly string[]).includes(a)) throw invalidRequest(`jwt_supported_algs: ${a.slice(0, 16)} is not supported`);
  const config: JwtConfig = {
    oidc_discovery_url: url(body.oidc_discovery_url, 'oidc_discovery_url'),
    oidc_discovery_ca_pem: str(body.oidc_discovery_ca_pem, 'oidc_discovery_ca_pem', 64 * 1024),
    jwks_url: url(body.jwks_url, 'jwks_url'),
    jwks_ca_pem: str(body.jwks_ca_pem, 'jwks_ca_pem', 64 * 1024),
    jwt_validation_pubkeys: pubkeys,
    bound_issuer: str(body.bound_issuer, 'bound_issuer'),
    jwt_supported_algs: algs,
    default_role: str(body.default_role, 'default_role', 128),
  };
  const sources = [config.oidc_discovery_url, config.jwks_url, config.jwt_validation_pubkeys.length > 0 ? 'x' : ''].filter(Boolean).length;
  if (sources !== 1) throw invalidRequest('exactly one of oidc_discovery_url, jwks_url or jwt_validation_pubkeys must be set');
  if (body.oidc_client_id !== undefined || body.oidc_client_secret !== undefined) {
    throw invalidRequest('the OIDC browser flow is not supported: configure JWT validation only');
  }
  return config;
}

function stringMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v) || Object.keys(v).length > 64 || !Object.values(v).every((x) => typeof x === 'string' && x.length <= 256)) {
    throw invalidRequest(`${field} must be a map of strings`);
  }
  return v as Record<string, string>;
}

/** Validates a role write; fields absent keep their previous value. */
export function parseJwtRole(body: Record<string, unknown>, prev?: JwtRole): JwtRole {
  const type = body.role_type ?? prev?.role_type ?? 'jwt';
  if (type === 'oidc') throw invalidRequest('role_type "oidc" (the browser flow) is not supported; use "jwt"');
  if (type !== 'jwt') throw invalidRequest('role_type must be "jwt"');
  let boundClaims = prev?.bound_claims ?? {};
  if (body.bound_claims !== undefined) {
    const b = body.bound_claims;
    if (!b || typeof b !== 'object' || Array.isArray(b) || Object.keys(b).length > 64) throw invalidRequest('bound_claims must be a map');
    for (const v of Object.values(b)) {
      const ok = typeof v === 'string' || (Array.isArray(v) && v.length <= 256 && v.every((x) => typeof x === 'string'));
      if (!ok) throw invalidRequest('bound_claims values must be strings or lists of strings');
    }
    boundClaims = b as Record<string, string | string[]>;
  }
  const claimsType = body.bound_claims_type ?? prev?.bound_claims_type ?? 'string';
  if (claimsType !== 'string' && claimsType !== 'glob') throw invalidRequest('bound_claims_type must be "string" or "glob"');
  let groupPolicies = prev?.group_policies ?? {};
  if (body.group_policies !== undefined) {
    const g = body.group_policies;
    if (!g || typeof g !== 'object' || Array.isArray(g) || Object.keys(g).length > 256) throw invalidRequest('group_policies must be a map of group to policies');
    groupPolicies = Object.fromEntries(Object.entries(g).map(([k, v]) => [k, policyList(v, `group_policies.${k}`) ?? []]));
  }
  const role: JwtRole = {
    role_type: 'jwt',
    bound_audiences: stringList(body.bound_audiences, 'bound_audiences') ?? prev?.bound_audiences ?? [],
    user_claim: str(body.user_claim, 'user_claim', 256) || prev?.user_claim || '',
    bound_subject: body.bound_subject === undefined ? (prev?.bound_subject ?? '') : str(body.bound_subject, 'bound_subject'),
    bound_claims: boundClaims,
    bound_claims_type: claimsType,
    claim_mappings: stringMap(body.claim_mappings, 'claim_mappings') ?? prev?.claim_mappings ?? {},
    groups_claim: body.groups_claim === undefined ? (prev?.groups_claim ?? '') : str(body.groups_claim, 'groups_claim', 256),
    group_policies: groupPolicies,
    clock_skew_leeway: durationField(body, 'clock_skew_leeway') ?? prev?.clock_skew_leeway ?? 60,
    ...parseTokenSettings(body, prev),
  };
  if (role.bound_audiences.length === 0) throw invalidRequest('bound_audiences is required: a role must name the audiences it accepts');
  if (role.user_claim === '') throw invalidRequest('user_claim is required');
  if (flagField(body, 'verbose_oidc_logging')) throw invalidRequest('verbose_oidc_logging is not supported');
  return role;
}

const configFields = (settings: Record<string, unknown>) => [1, settings];
/** Role rows: MAC'd fields identity first, then a fresh `row_seq` value per write (core/row-seq.ts). */
const ROLES = seqRows<{ name: string; settings: Record<string, unknown>; seq: number }>('jwt_roles', (r) => r.name, (r) => [r.name, r.settings]);

export async function readJwtConfig(db: Queryable, mac: RowMac): Promise<JwtConfig | undefined> {
  const [row] = await db.select().from(jwtConfig).where(eq(jwtConfig.id, 1));
  if (!row) return undefined;
  mac.check(CONFIG, configFields(row.settings), row.mac);
  return row.settings as unknown as JwtConfig;
}

export async function writeJwtConfig(db: Queryable, mac: RowMac, config: JwtConfig): Promise<void> {
  const settings = { ...config } as Record<string, unknown>;
  const m = mac.sign(CONFIG, configFields(settings));
  await db.insert(jwtConfig).values({ id: 1, settings, mac: m }).onConflictDoUpdate({ target: jwtConfig.id, set: { settings, mac: m } });
}

/** The role, if its row is the vault's own and no older than one this process saw (else IntegrityError). */
export async function readJwtRole(db: Queryable, mac: RowMac, name: string): Promise<JwtRole | undefined> {
  if (!ROLE_NAME.test(name)) return undefined;
  const since = mac.clock();
  const [row] = await db.select().from(jwtRoles).where(eq(jwtRoles.name, name));
  if (!row) return undefined;
  ROLES.verify(mac, row, since);
  return { ...(row.settings as unknown as JwtRole), ...storedTokenSettings(row.settings) };
}

/** Writes the role under a fresh seq; of two writes racing, the higher seq stays. */
export async function writeJwtRole(db: Queryable, mac: RowMac, name: string, role: JwtRole): Promise<void> {
  const row = { name, settings: { ...role } as Record<string, unknown>, seq: await nextRowSeq(db) };
  const m = ROLES.sign(mac, row);
  await db
    .insert(jwtRoles)
    .values({ ...row, mac: m })
    .onConflictDoUpdate({ target: jwtRoles.name, set: { settings: row.settings, seq: row.seq, mac: m }, setWhere: lt(jwtRoles.seq, row.seq) });
}

/** Deletes the role; remember the rows returned once committed (rememberGone). */
export async function deleteJwtRole(db: Queryable, name: string): Promise<GoneRow[]> {
  const gone = await db.delete(jwtRoles).where(eq(jwtRoles.name, name)).returning({ seq: jwtRoles.seq });
  return gone.map((g) => ({ table: ROLES.table, id: name, seq: g.seq }));
}

/** A claim by name, or by JSON pointer (`/a/b`) into nested objects, as Vault looks them up. */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (!path.startsWith('/')) return claims[path];
  let cur: unknown = claims;
  for (const raw of path.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** `*` matches any run of characters; nothing else is special. */
function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return re.test(value);
}

const scalar = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined);

/** Why a verified token's claims do not satisfy the role, or undefined when they do. */
export function claimsMismatch(role: JwtRole, claims: Record<string, unknown>): string | undefined {
  if (role.bound_subject !== '' && claims.sub !== role.bound_subject) return 'sub claim does not match bound subject';
  for (const [name, expected] of Object.entries(role.bound_claims)) {
    const actual = claimAt(claims, name);
    const values = (Array.isArray(actual) ? actual : [actual]).map(scalar).filter((v): v is string => v !== undefined);
    const wanted = Array.isArray(expected) ? expected : [expected];
    const match = values.some((v) => wanted.some((w) => (role.bound_claims_type === 'glob' ? globMatch(w, v) : w === v)));
    if (!match) return `claim "${name.slice(0, 64)}" does not match any associated bound claim values`;
  }
  const user = scalar(claimAt(claims, role.user_claim));
  if (user === undefined || user === '') return `claim "${role.user_claim.slice(0, 64)}" not found in token`;
  return undefined;
}

/** What a login takes from the claims: the user, the groups, and the mapped metadata. */
export function loginClaims(role: JwtRole, claims: Record<string, unknown>): { user: string; groups: string[]; metadata: Record<string, string> } {
  const user = scalar(claimAt(claims, role.user_claim))!;
  let groups: string[] = [];
  if (role.groups_claim !== '') {
    const g = claimAt(claims, role.groups_claim);
    groups = (Array.isArray(g) ? g : g === undefined ? [] : [g]).map(scalar).filter((v): v is string => v !== undefined);
  }
  const metadata: Record<string, string> = {};
  for (const [claim, key] of Object.entries(role.claim_mappings)) {
    const v = claimAt(claims, claim);
    const s = scalar(v);
    if (s !== undefined) metadata[key] = s;
  }
  return { user, groups, metadata };
}

/** The policies the groups claim adds through the role's group_policies. */
export function groupPolicies(role: JwtRole, groups: string[]): string[] {
  return [...new Set(groups.flatMap((g) => (Object.hasOwn(role.group_policies, g) ? role.group_policies[g]! : [])))];
}
