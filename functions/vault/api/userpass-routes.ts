// auth/userpass: users (create, read, update, delete, list), password and policy changes, and
// login (which needs no token). Wrong passwords are throttled per user and client address.
// @see https://developer.hashicorp.com/vault/api-docs/auth/userpass
import type { Database } from '#shared/db/index';
import { VaultError, invalidRequest, notFoundError } from '#functions/vault/core/errors';
import { addressAllowed } from '#functions/vault/core/cidr';
import { policyList, issueLoginToken, tokenSettingsData } from '#functions/vault/core/token-settings';
import { rememberGone } from '#functions/vault/core/row-seq';
import { checkPassword, countAttempt, deleteUser, hashPassword, listUsers, passwordField, readUser, username, writeUser } from '#functions/vault/core/userpass';
import { assertNoNul } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRoute } from './route.js';
import { authBlock } from './token-routes.js';
import type { UnsealerClient } from './unsealer-client.js';

const invalidCredentials = () => invalidRequest('invalid username or password');

export function userpassRoutes(database: Database, unsealer: UnsealerClient): VaultRoute[] {
  const db = database.db;

  const existing = async (name: string) => {
    const user = await readUser(db, await unsealer.rowMac(), name);
    if (!user) throw invalidRequest(`user "${name}" does not exist`);
    return user;
  };

  return [
    {
      pattern: /^auth\/userpass\/users$/,
      handlers: {
        list: async (req) => {
          const keys = await listUsers(db);
          if (keys.length === 0) throw notFoundError();
          return ok(req, { data: { keys } });
        },
      },
    },
    {
      pattern: /^auth\/userpass\/users\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const user = await readUser(db, await unsealer.rowMac(), username(m[1]!));
          if (!user) throw notFoundError();
          const { username: _u, passwordHash: _p, ...settings } = user;
          return ok(req, { data: tokenSettingsData(settings) });
        },
        update: async (req, m) => {
          const name = username(m[1]!);
          assertNoNul(req.body, 'user');
          // Hashed before the transaction: Argon2id's work holds no connection.
          const hash = req.body.password === undefined ? undefined : await hashPassword(passwordField(req.body));
          await database.transaction(async (tx) => writeUser(tx, await unsealer.rowMac(), name, req.body, hash));
          return done();
        },
        delete: async (_req, m) => {
          rememberGone(await unsealer.rowMac(), await database.transaction((tx) => deleteUser(tx, username(m[1]!))));
          return done();
        },
      },
    },
    {
      pattern: /^auth\/userpass\/users\/([^/]+)\/password$/,
      handlers: {
        update: async (_req, m) => {
          const name = username(m[1]!);
          const hash = await hashPassword(passwordField(_req.body));
          await database.transaction(async (tx) => {
            const mac = await unsealer.rowMac();
            if (!(await readUser(tx, mac, name))) throw invalidRequest(`user "${name}" does not exist`);
            await writeUser(tx, mac, name, {}, hash);
          });
          return done();
        },
      },
    },
    {
      pattern: /^auth\/userpass\/users\/([^/]+)\/policies$/,
      handlers: {
        update: async (req, m) => {
          const name = username(m[1]!);
          const policies = policyList(req.body.token_policies ?? req.body.policies, 'token_policies');
          if (!policies) throw invalidRequest('missing token_policies');
          await database.transaction(async (tx) => {
            await existing(name);
            await writeUser(tx, await unsealer.rowMac(), name, { token_policies: policies });
          });
          return done();
        },
      },
    },
    {
      pattern: /^auth\/userpass\/login\/([^/]+)$/,
      unauthenticated: true,
      handlers: {
        update: async (req, m) => {
          const name = username(m[1]!);
          const password = passwordField(req.body);
          const client = req.remoteAddress ?? 'unknown';
          const wait = await database.transaction((tx) => countAttempt(tx, name, client));
          if (wait !== undefined) {
            throw new VaultError(429, 'too_many_attempts', ['too many failed login attempts for this user from this address; retry later'], {
              headers: { 'retry-after': String(wait) },
            });
          }
          const mac = await unsealer.rowMac();
          const user = await checkPassword(db, mac, name, client, password);
          if (!user) throw invalidCredentials();
          if (!addressAllowed(req.remoteAddress, user.token_bound_cidrs)) {
            throw new VaultError(403, 'permission_denied', ['login request originated from invalid CIDR']);
          }
          const issued = await issueLoginToken(db, await unsealer.rowMac(), {
            settings: user,
            displayName: `userpass-${name}`,
            path: `auth/userpass/login/${name}`,
            meta: { username: name },
          });
          return ok(req, { auth: authBlock(issued.row, issued.token, issued.tokenPolicies) });
        },
      },
    },
  ];
}
