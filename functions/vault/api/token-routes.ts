// Token auth: create (child or orphan), lookup-self, renew-self, revoke-self, and on another
// token lookup, lookup-accessor, renew, revoke, revoke-accessor (which spend none of its uses).
// @see https://developer.hashicorp.com/vault/api-docs/auth/token
import type { Database } from '#shared/db/index';
import { parseDuration } from '#functions/vault/core/duration';
import { invalidRequest, permissionDenied } from '#functions/vault/core/errors';
import type { RowMac, RowMacSource } from '#functions/vault/core/integrity';
import type { Token } from '#functions/vault/core/schema';
import { getRole, rolePolicies, type RoleSettings } from '#functions/vault/core/token-roles';
import { rememberGone } from '#functions/vault/core/row-seq';
import { DEFAULT_TOKEN_TTL, insertToken, peekAccessor, peekToken, remainingTtl, renewToken, revokedToken, revokeTree } from '#functions/vault/core/tokens';
import { assertNoNul, boolField, intField } from '#functions/vault/core/wire';
import { WRAPPING_POLICY } from '#functions/vault/core/wrapping';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultRoute } from './route.js';

const POLICY_NAME = /^[A-Za-z0-9_.@-]{1,128}$/;
/** Policies no token may be given (Vault's nonAssignablePolicies). */
const NON_ASSIGNABLE = [WRAPPING_POLICY, 'control-group'];

/** The `auth` block of a login or token creation. */
export function authBlock(row: Token, clientToken: string, tokenPolicies = row.policies) {
  return {
    client_token: clientToken,
    accessor: row.accessor,
    policies: row.policies,
    token_policies: tokenPolicies,
    metadata: row.meta ?? null,
    lease_duration: row.ttlSeconds,
    renewable: row.renewable,
    entity_id: row.entityId,
    token_type: 'service',
    orphan: row.orphan,
    mfa_requirement: null,
    num_uses: row.numUses,
  };
}

/** lookup-self's `data`: numbers as numbers, expire_time RFC 3339 or null (what ESO reads). */
function lookupData(row: Token, clientToken: string | undefined) {
  const unix = (d: Date) => Math.floor(d.getTime() / 1000);
  return {
    accessor: row.accessor,
    creation_time: unix(row.createdAt),
    creation_ttl: row.ttlSeconds,
    display_name: row.displayName,
    entity_id: row.entityId,
    expire_time: row.expiresAt ? row.expiresAt.toISOString() : null,
    explicit_max_ttl: row.explicitMaxTtlSeconds,
    id: clientToken ?? '',
    issue_time: row.createdAt.toISOString(),
    meta: row.meta ?? null,
    num_uses: row.numUses,
    orphan: row.orphan,
    path: row.path,
    policies: row.policies,
    renewable: row.renewable,
    ttl: remainingTtl(row),
    type: 'service',
    ...(row.periodSeconds > 0 ? { period: row.periodSeconds } : {}),
    ...(row.role ? { role: row.role } : {}),
    ...(row.boundCidrs.length > 0 ? { bound_cidrs: row.boundCidrs } : {}),
  };
}

function policiesOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(list) || !list.every((p) => typeof p === 'string' && POLICY_NAME.test(p))) {
    throw invalidRequest('policies must be a list of policy names');
  }
  return [...new Set(list as string[])];
}

function ttlOf(body: Record<string, unknown>, key: string): number | undefined {
  if (body[key] === undefined || body[key] === '') return undefined;
  const v = parseDuration(body[key]);
  if (v === undefined) throw invalidRequest(`invalid ${key}`);
  return v;
}

export function tokenRoutes(database: Database, unsealer: { rowMac(): Promise<RowMac> }): VaultRoute[] {
  const rowMac: RowMacSource = () => unsealer.rowMac();
  const db = database.db;

  /** The token's policies without a role, or under a role without allowed/disallowed policies. */
  const plainPolicies = (parent: Token, requestedRaw: unknown, noDefault: boolean) => {
    const isRoot = parent.policies.includes('root');
    const requested = policiesOf(requestedRaw) ?? parent.policies.filter((p) => p !== 'root' || isRoot);
    // Vault: a non-root token may only create children with a subset of its own policies.
    if (!isRoot && !requested.every((p) => p === 'default' || parent.policies.includes(p))) {
      throw invalidRequest('child policies must be subset of parent');
    }
    return requested.includes('root') || noDefault || requested.includes('default') ? requested : [...requested, 'default'];
  };

  /**
   * Vault's token creation, with the rules of `role` when given: its policies, orphan, renewable,
   * period and explicit max (the lesser of the role's and the request's, with a warning).
   * @see https://developer.hashicorp.com/vault/api-docs/auth/token#create-token
   */
  const create = async (req: VaultRequest, orphanEndpoint: boolean, role?: RoleSettings) => {
    const parent = req.token!;
    const isRoot = parent.policies.includes('root');
    const isSudo = isRoot || (req.acl?.allows(req.path, 'sudo') ?? false);
    const b = req.body;
    const warnings: string[] = [];
    const noDefault = (boolField(b, 'no_default_policy') ?? false) || (role?.tokenNoDefaultPolicy ?? false);
    const policies =
      role && (role.allowedPolicies.length > 0 || role.disallowedPolicies.length > 0)
        ? rolePolicies(role, parent, policiesOf(b.policies) ?? [], noDefault)
        : plainPolicies(parent, b.policies, noDefault);
    const forbidden = policies.find((p) => NON_ASSIGNABLE.includes(p));
    if (forbidden) throw invalidRequest(`cannot assign policy "${forbidden}"`);
    if (policies.includes('root') && !isRoot) throw invalidRequest('root tokens may not be created without parent token being root');
    const askedOrphan = boolField(b, 'no_parent') ?? false;
    if (!role && askedOrphan && !orphanEndpoint && !isSudo) {
      throw invalidRequest('root or sudo privileges required to create orphan token');
    }
    // A role decides orphanhood alone (Vault ignores no_parent with a role).
    const noParent = role ? role.orphan : orphanEndpoint || askedOrphan;
    let explicitMax = ttlOf(b, 'explicit_max_ttl') ?? 0;
    if (role && role.tokenExplicitMaxTtlSeconds > 0) {
      if (explicitMax === 0) explicitMax = role.tokenExplicitMaxTtlSeconds;
      else {
        explicitMax = Math.min(explicitMax, role.tokenExplicitMaxTtlSeconds);
        warnings.push(`Explicit max TTL specified both during creation call and in role; using the lesser value of ${explicitMax} seconds`);
      }
    }
    // Periodic tokens: only root or sudo may ask for one; a role may grant one to anybody it serves.
    // @see https://developer.hashicorp.com/vault/docs/concepts/tokens#periodic-tokens
    let period = ttlOf(b, 'period') ?? 0;
    if (b.period !== undefined && b.period !== '' && !isSudo) throw invalidRequest('root or sudo privileges required to create periodic token');
    if (period > DEFAULT_TOKEN_TTL) throw invalidRequest(`period must not exceed the system max TTL of ${DEFAULT_TOKEN_TTL}s`);
    if (role && role.tokenPeriodSeconds > 0) {
      if (period === 0) period = role.tokenPeriodSeconds;
      else {
        period = Math.min(period, role.tokenPeriodSeconds);
        warnings.push(`Period specified both during creation call and in role; using the lesser value of ${period} seconds`);
      }
    }
    let ttl = period > 0 ? period : (ttlOf(b, 'ttl') ?? (policies.includes('root') && isRoot && b.ttl === undefined ? 0 : DEFAULT_TOKEN_TTL));
    if (ttl > DEFAULT_TOKEN_TTL) ttl = DEFAULT_TOKEN_TTL;
    if (explicitMax > 0 && (ttl === 0 || ttl > explicitMax)) ttl = explicitMax;
    let numUses = intField(b, 'num_uses') ?? 0;
    if (numUses < 0) throw invalidRequest('number of uses cannot be negative');
    if (role && role.tokenNumUses > 0 && (numUses === 0 || numUses > role.tokenNumUses)) numUses = role.tokenNumUses;
    const meta = b.meta;
    if (meta !== undefined && meta !== null && (typeof meta !== 'object' || Array.isArray(meta) || !Object.values(meta).every((x) => typeof x === 'string'))) {
      throw invalidRequest('meta must be a map of strings');
    }
    assertNoNul(meta, 'meta');
    assertNoNul(b.display_name, 'display_name');
    const displayName = typeof b.display_name === 'string' && b.display_name ? `token-${b.display_name}` : 'token';
    const path = role
      ? `auth/token/create/${role.name}${role.pathSuffix ? `/${role.pathSuffix}` : ''}`
      : orphanEndpoint
        ? 'auth/token/create-orphan'
        : 'auth/token/create';
    const created = await insertToken(db, await rowMac(), {
      policies,
      displayName: displayName.slice(0, 128),
      path,
      parentAccessor: noParent ? null : parent.accessor,
      ttlSeconds: ttl,
      explicitMaxTtlSeconds: explicitMax,
      numUses,
      renewable: (boolField(b, 'renewable') ?? true) && ttl > 0 && (role?.renewable ?? true),
      meta: (meta as Record<string, string> | undefined) ?? null,
      periodSeconds: period,
      role: role?.name ?? '',
    });
    // The parent was revoked since this request authenticated it.
    if (!created) throw permissionDenied();
    return ok(req, { auth: authBlock(created.row, created.token, policies), warnings: warnings.length ? warnings : null });
  };

  const roleNamed = async (name: string) => {
    const role = await getRole(db, await unsealer.rowMac(), name);
    if (!role) throw invalidRequest(`unknown role ${name}`);
    return role;
  };

  const otherToken = async (req: VaultRequest) => {
    const t = req.body.token ?? req.query.get('token');
    if (typeof t !== 'string' || t === '') throw invalidRequest('missing token');
    return t;
  };

  const accessorOf = (req: VaultRequest) => {
    const a = req.body.accessor;
    if (typeof a !== 'string' || a === '') throw invalidRequest('missing accessor');
    return a;
  };

  /** Revokes the tree, then (committed) remembers every revoked accessor as gone. */
  const revoke = async (accessor: string) => {
    const gone: string[] = [];
    const n = await database.transaction((tx) => revokeTree(tx, accessor, (a) => gone.push(a)));
    rememberGone(await unsealer.rowMac(), gone.map(revokedToken));
    return n;
  };

  const renew = async (req: VaultRequest, row: Token, clientToken: string) => {
    if (!row.renewable) throw invalidRequest('lease is not renewable');
    // Vault renews no token whose role was deleted since.
    if (row.role && !(await getRole(db, await unsealer.rowMac(), row.role))) {
      throw invalidRequest(`original token role (${row.role}) could not be found, not renewing`);
    }
    const increment = ttlOf(req.body, 'increment') ?? 0;
    const { row: renewed, warning } = await renewToken(db, await rowMac(), row, increment);
    return ok(req, {
      auth: { ...authBlock(renewed, clientToken), lease_duration: remainingTtl(renewed) },
      warnings: warning ? [warning] : null,
    });
  };

  return [
    { pattern: /^auth\/token\/create$/, handlers: { update: (req) => create(req, false) } },
    { pattern: /^auth\/token\/create-orphan$/, sudo: true, handlers: { update: (req) => create(req, true) } },
    { pattern: /^auth\/token\/create\/([^/]+)$/, handlers: { update: async (req, m) => create(req, false, await roleNamed(m[1]!)) } },
    {
      pattern: /^auth\/token\/lookup-self$/,
      capability: () => 'read',
      handlers: {
        read: async (req) => ok(req, { data: lookupData(req.token!, req.clientToken) }),
        update: async (req) => ok(req, { data: lookupData(req.token!, req.clientToken) }),
      },
    },
    {
      pattern: /^auth\/token\/renew-self$/,
      handlers: {
        update: (req) => renew(req, req.token!, req.clientToken!),
      },
    },
    {
      pattern: /^auth\/token\/revoke-self$/,
      handlers: {
        update: async (req) => {
          await revoke(req.token!.accessor);
          return done();
        },
      },
    },
    {
      pattern: /^auth\/token\/lookup$/,
      handlers: {
        update: async (req) => {
          const t = await otherToken(req);
          const row = await peekToken(db, await rowMac(), t);
          if (!row) throw invalidRequest('bad token');
          return ok(req, { data: lookupData(row, t) });
        },
      },
    },
    {
      pattern: /^auth\/token\/lookup-accessor$/,
      handlers: {
        update: async (req) => {
          const row = await peekAccessor(db, await rowMac(), accessorOf(req));
          if (!row) throw invalidRequest('invalid accessor');
          // Vault never shows the token itself to an accessor lookup.
          return ok(req, { data: lookupData(row, undefined) });
        },
      },
    },
    {
      pattern: /^auth\/token\/renew$/,
      handlers: {
        update: async (req) => {
          const t = await otherToken(req);
          const row = await peekToken(db, await rowMac(), t);
          if (!row) throw invalidRequest('invalid token');
          return renew(req, row, t);
        },
      },
    },
    {
      pattern: /^auth\/token\/revoke-accessor$/,
      handlers: {
        update: async (req) => {
          const row = await peekAccessor(db, await rowMac(), accessorOf(req));
          if (row) await revoke(row.accessor);
          return done();
        },
      },
    },
    {
      pattern: /^auth\/token\/revoke$/,
      handlers: {
        update: async (req) => {
          const t = await otherToken(req);
          const row = await peekToken(db, await rowMac(), t);
          if (row) await revoke(row.accessor);
          return done();
        },
      },
    },
  ];
}
