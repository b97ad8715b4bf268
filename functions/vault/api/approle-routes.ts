// auth/approle: roles, role ids, secret ids (generate, custom, list, lookup, destroy by value
// or accessor) and login with role_id + secret_id (the login path needs no token).
// @see https://developer.hashicorp.com/vault/api-docs/auth/approle
import type { Database } from '#shared/db/index';
import {
  checkRoleCidrs,
  consumeSecretId,
  createSecretId,
  deleteRole,
  destroySecretId,
  invalidCredentials,
  listRoles,
  listSecretIdAccessors,
  lookupSecretId,
  readRole,
  roleByRoleId,
  secretIdRequest,
  writeRole,
  type AppRole,
  type SecretIdInfo,
} from '#functions/vault/core/approle';
import { addressAllowed } from '#functions/vault/core/cidr';
import { VaultError, invalidRequest, notFoundError } from '#functions/vault/core/errors';
import { rememberGone } from '#functions/vault/core/row-seq';
import { issueLoginToken, tokenSettingsData } from '#functions/vault/core/token-settings';
import { assertNoNul } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultRoute } from './route.js';
import { authBlock } from './token-routes.js';
import type { UnsealerClient } from './unsealer-client.js';

const R = 'auth\\/approle\\/role\\/([^/]+)';
const route = (suffix: string) => new RegExp(`^${R}${suffix}$`);

function roleData(r: AppRole) {
  return {
    bind_secret_id: r.bind_secret_id,
    local_secret_ids: false,
    secret_id_bound_cidrs: r.secret_id_bound_cidrs,
    secret_id_num_uses: r.secret_id_num_uses,
    secret_id_ttl: r.secret_id_ttl,
    token_period: 0,
    period: 0,
    ...tokenSettingsData(r),
  };
}

const rfc3339 = (d: Date | null) => (d ? d.toISOString() : '0001-01-01T00:00:00Z');

function secretIdData(s: SecretIdInfo) {
  return {
    cidr_list: s.cidrList,
    creation_time: rfc3339(s.createdAt),
    expiration_time: rfc3339(s.expiresAt),
    last_updated_time: rfc3339(s.createdAt),
    metadata: s.metadata,
    secret_id_accessor: s.accessor,
    secret_id_num_uses: s.numUses,
    secret_id_ttl: s.ttlSeconds,
    token_bound_cidrs: s.tokenBoundCidrs,
  };
}

function stringField(req: VaultRequest, key: string): string {
  const v = req.body[key];
  if (typeof v !== 'string' || v === '') throw invalidRequest(`missing ${key}`);
  if (v.length > 1024) throw invalidRequest(`invalid ${key}`);
  return v;
}

export function approleRoutes(database: Database, unsealer: UnsealerClient): VaultRoute[] {
  const db = database.db;

  const role = async (name: string): Promise<AppRole> => {
    const r = await readRole(db, await unsealer.rowMac(), name);
    if (!r) throw invalidRequest(`role "${name}" does not exist`);
    return r;
  };

  const generate = async (req: VaultRequest, name: string, custom: boolean) => {
    assertNoNul(req.body, 'secret id');
    const mac = await unsealer.rowMac();
    // The role row stays locked FOR SHARE until the secret id is stored (see deleteRole).
    const { secretId, info } = await database.transaction(async (tx) => {
      const r = await readRole(tx, mac, name, true);
      if (!r) throw invalidRequest(`role "${name}" does not exist`);
      if (!r.bind_secret_id) throw invalidRequest('bind_secret_id is not set on the role');
      const request = secretIdRequest(r, custom ? req.body : { ...req.body, secret_id: undefined });
      if (custom && !request.secretId) throw invalidRequest('missing secret_id');
      return createSecretId(tx, mac, r, request);
    });
    return ok(req, { data: { secret_id: secretId, secret_id_accessor: info.accessor, secret_id_ttl: info.ttlSeconds, secret_id_num_uses: info.numUses } });
  };

  const byValue = (req: VaultRequest) => ({ secretId: stringField(req, 'secret_id') });
  const byAccessor = (req: VaultRequest) => ({ accessor: stringField(req, 'secret_id_accessor') });

  const lookup = (by: (req: VaultRequest) => { secretId: string } | { accessor: string }) => async (req: VaultRequest, m: RegExpExecArray) => {
    const r = await role(m[1]!);
    const info = await lookupSecretId(db, await unsealer.rowMac(), r.name, by(req));
    if (!info) throw notFoundError();
    return ok(req, { data: secretIdData(info) });
  };

  const destroy = (by: (req: VaultRequest) => { secretId: string } | { accessor: string }) => async (req: VaultRequest, m: RegExpExecArray) => {
    const r = await role(m[1]!);
    await destroySecretId(db, await unsealer.rowMac(), r.name, by(req));
    return done();
  };

  return [
    {
      pattern: /^auth\/approle\/role$/,
      handlers: {
        list: async (req) => {
          const keys = await listRoles(db);
          if (keys.length === 0) throw notFoundError();
          return ok(req, { data: { keys } });
        },
      },
    },
    {
      pattern: route(''),
      handlers: {
        read: async (req, m) => {
          const r = await readRole(db, await unsealer.rowMac(), m[1]!);
          if (!r) throw notFoundError();
          return ok(req, { data: roleData(r) });
        },
        update: async (req, m) => {
          assertNoNul(req.body, 'role');
          await database.transaction(async (tx) => writeRole(tx, await unsealer.rowMac(), m[1]!, req.body));
          return done();
        },
        delete: async (_req, m) => {
          rememberGone(await unsealer.rowMac(), await database.transaction((tx) => deleteRole(tx, m[1]!)));
          return done();
        },
      },
    },
    {
      pattern: route('\\/role-id'),
      handlers: {
        read: async (req, m) => ok(req, { data: { role_id: (await role(m[1]!)).role_id } }),
        update: async (req, m) => {
          const roleId = stringField(req, 'role_id');
          await database.transaction(async (tx) => {
            const mac = await unsealer.rowMac();
            if (!(await readRole(tx, mac, m[1]!))) throw invalidRequest(`role "${m[1]}" does not exist`);
            await writeRole(tx, mac, m[1]!, { role_id: roleId });
          });
          return done();
        },
      },
    },
    {
      pattern: route('\\/secret-id'),
      handlers: {
        update: (req, m) => generate(req, m[1]!, false),
        list: async (req, m) => {
          const r = await role(m[1]!);
          const keys = await listSecretIdAccessors(db, r.name);
          if (keys.length === 0) throw notFoundError();
          return ok(req, { data: { keys } });
        },
      },
    },
    { pattern: route('\\/custom-secret-id'), handlers: { update: (req, m) => generate(req, m[1]!, true) } },
    { pattern: route('\\/secret-id\\/lookup'), handlers: { update: lookup(byValue) } },
    { pattern: route('\\/secret-id\\/destroy'), handlers: { update: destroy(byValue), delete: destroy(byValue) } },
    { pattern: route('\\/secret-id-accessor\\/lookup'), handlers: { update: lookup(byAccessor) } },
    { pattern: route('\\/secret-id-accessor\\/destroy'), handlers: { update: destroy(byAccessor), delete: destroy(byAccessor) } },
    {
      pattern: /^auth\/approle\/login$/,
      unauthenticated: true,
      handlers: {
        update: async (req) => {
          const roleId = stringField(req, 'role_id');
          const secretId = req.body.secret_id;
          if (secretId !== undefined && typeof secretId !== 'string') throw invalidRequest('invalid secret_id');
          const mac = await unsealer.rowMac();
          const r = await roleByRoleId(db, mac, roleId);
          if (!r) throw invalidCredentials();
          if (r.bind_secret_id && !secretId) throw invalidRequest('missing secret_id');
          let spent: Awaited<ReturnType<typeof consumeSecretId>> | undefined;
          const issued = await database.transaction(async (tx) => {
            let info: SecretIdInfo | undefined;
            if (r.bind_secret_id) info = spent = await consumeSecretId(tx, mac, r, secretId!, req.remoteAddress);
            checkRoleCidrs(r, req.remoteAddress);
            const boundCidrs = info && info.tokenBoundCidrs.length > 0 ? info.tokenBoundCidrs : r.token_bound_cidrs;
            if (!addressAllowed(req.remoteAddress, boundCidrs)) {
              throw new VaultError(403, 'permission_denied', ['source address unauthorized through CIDR restrictions on the token']);
            }
            return issueLoginToken(tx, mac, {
              settings: r,
              displayName: 'approle',
              path: 'auth/approle/login',
              meta: { ...(info?.metadata ?? {}), role_name: r.name },
              boundCidrs,
            });
          });
          // Committed: the secret id's row as it was before this use is refused if put back.
          if (spent) rememberGone(mac, [spent.superseded]);
          return ok(req, { auth: authBlock(issued.row, issued.token, issued.tokenPolicies) });
        },
      },
    },
  ];
}
