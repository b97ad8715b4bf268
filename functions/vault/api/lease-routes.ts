// sys/leases: lookup, list, renew, revoke, revoke-prefix, revoke-force (and Vault's older
// sys/renew, sys/revoke, sys/revoke-prefix paths, which node-vault still calls).
// @see https://developer.hashicorp.com/vault/api-docs/system/leases
import type { Database } from '#shared/db/index';
import { parseDuration } from '#functions/vault/core/duration';
import { invalidRequest, notFoundError, permissionDenied, VaultError } from '#functions/vault/core/errors';
import type { RowMac } from '#functions/vault/core/integrity';
import { getLease, leaseIdsUnder, listLeases, lookupData, renewLease, revokeLease, type LeaseEngines } from '#functions/vault/core/leases';
import type { Token } from '#functions/vault/core/schema';
import { rememberGone } from '#functions/vault/core/row-seq';
import { peekAccessor, remainingTtl, renewToken, revokedToken, revokeTree } from '#functions/vault/core/tokens';
import { envelope } from '#functions/vault/core/wire';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultResponse, VaultRoute } from './route.js';

// eslint-disable-next-line no-control-regex
const LEASE_ID = /^[^\u0000-\u001f\u007f]{1,1024}$/;

function leaseIdOf(req: VaultRequest, fromPath: string | undefined): string {
  const raw = fromPath ?? req.body.lease_id;
  if (typeof raw !== 'string' || !LEASE_ID.test(raw.trim())) throw invalidRequest('missing or invalid lease_id');
  return raw.trim();
}

/** A prefix names a folder, as in Vault: `database/creds/a` covers `database/creds/a/…`, not `…/ab/…`. */
function prefixOf(raw: string | undefined): string {
  const p = (raw ?? '').replace(/^\/+/, '').replace(/\/*$/, '');
  if (p === '' || p.length > 1024) throw invalidRequest('a prefix is required');
  return `${p}/`;
}

/**
 * A token's lease id is its creation path and its accessor (`auth/token/create/<accessor>`): the
 * live token it names, if its path matches, else undefined. Vault's token lease ids name a salted
 * hash of the token instead; this vault gives tokens no lease id of their own, so these ids are
 * built by the caller from a token's `path` and `accessor` (lookup-self shows both).
 */
async function tokenOfLease(database: Database, mac: RowMac, id: string): Promise<Token | undefined> {
  if (!id.startsWith('auth/')) return undefined;
  const cut = id.lastIndexOf('/');
  const row = await peekAccessor(database.db, mac, id.slice(cut + 1));
  return row && row.path === id.slice(0, cut) ? row : undefined;
}

export function leaseRoutes(database: Database, rowMac: () => Promise<RowMac>, engines: LeaseEngines): VaultRoute[] {
  const lookup = async (req: VaultRequest) => {
    const id = leaseIdOf(req, undefined);
    if (id.startsWith('auth/')) {
      const token = await tokenOfLease(database, await rowMac(), id);
      if (!token) throw invalidRequest('invalid lease');
      const data = { id, issue_time: token.createdAt.toISOString(), expire_time: token.expiresAt?.toISOString() ?? null, last_renewal: null, renewable: token.renewable, ttl: remainingTtl(token) };
      return ok(req, { data });
    }
    const lease = await getLease(database.db, await rowMac(), id);
    if (!lease || lease.expireTime.getTime() <= Date.now()) throw invalidRequest('invalid lease');
    return ok(req, { data: lookupData(lease) });
  };

  const renew = async (req: VaultRequest, m: RegExpExecArray): Promise<VaultResponse> => {
    const id = leaseIdOf(req, m[1]);
    const raw = req.body.increment;
    const increment = raw === undefined || raw === null || raw === '' ? 0 : parseDuration(raw);
    if (increment === undefined) throw invalidRequest('invalid increment');
    if (id.startsWith('auth/')) {
      const token = await tokenOfLease(database, await rowMac(), id);
      if (!token) throw invalidRequest('lease not found or lease is not renewable');
      if (!token.renewable) throw invalidRequest('lease is not renewable');
      const { row, warning } = await renewToken(database.db, await rowMac(), token, increment);
      const body = { ...envelope(req.requestId, { warnings: warning ? [warning] : null }), lease_id: id, renewable: row.renewable, lease_duration: remainingTtl(row) };
      return { status: 200, body };
    }
    const { lease, warnings } = await renewLease(database, await rowMac(), engines, id, increment);
    return {
      status: 200,
      body: { ...envelope(req.requestId, { warnings: warnings.length ? warnings : null }), lease_id: lease.leaseId, renewable: lease.renewable, lease_duration: lease.ttlSeconds },
    };
  };

  const revoke = async (req: VaultRequest, m: RegExpExecArray) => {
    const id = leaseIdOf(req, m[1]);
    if (id.startsWith('auth/')) {
      const token = await tokenOfLease(database, await rowMac(), id);
      if (token) {
        const gone: string[] = [];
        await database.transaction((tx) => revokeTree(tx, token.accessor, (a) => gone.push(a)));
        rememberGone(await rowMac(), gone.map(revokedToken));
      }
      return done();
    }
    await revokeLease(database, await rowMac(), engines, id);
    return done();
  };

  /** Every lease under the prefix; a failure of one is reported after the others were tried. */
  const revokeUnder = (force: boolean) => async (_req: VaultRequest, m: RegExpExecArray) => {
    const prefix = prefixOf(m[1]);
    const mac = await rowMac();
    const failed: string[] = [];
    for (const id of await leaseIdsUnder(database.db, prefix)) {
      try {
        await revokeLease(database, mac, engines, id, { force });
      } catch (err) {
        if (!(err instanceof VaultError) || err.status >= 500 || err.code === 'integrity_check_failed') throw err;
        failed.push(`${id}: ${err.messages.join('; ')}`);
      }
    }
    if (failed.length > 0) {
      throw invalidRequest(`failed to revoke ${failed.length} lease(s) under "${prefix}" (they stay, and are retried): ${failed.slice(0, 3).join(' | ')}`);
    }
    return done();
  };

  return [
    {
      pattern: /^sys\/leases\/lookup(?:\/(.*))?$/,
      readsOnly: true,
      handlers: {
        update: lookup,
        // Listing needs sudo (Vault's root-protected path); looking one lease up does not.
        list: async (req, m) => {
          if (req.acl && !req.acl.allows(req.path, 'sudo')) throw permissionDenied();
          const prefix = (m[1] ?? '').replace(/^\/+/, '');
          const keys = await listLeases(database.db, prefix === '' ? '' : `${prefix.replace(/\/*$/, '')}/`);
          if (keys.length === 0) throw notFoundError();
          return ok(req, { data: { keys } });
        },
      },
    },
    { pattern: /^sys\/(?:leases\/)?renew(?:\/(.+))?$/, handlers: { update: renew } },
    { pattern: /^sys\/(?:leases\/)?revoke(?:\/(.+))?$/, handlers: { update: revoke } },
    { pattern: /^sys\/(?:leases\/)?revoke-prefix\/(.+)$/, sudo: true, handlers: { update: revokeUnder(false) } },
    { pattern: /^sys\/(?:leases\/)?revoke-force\/(.+)$/, sudo: true, handlers: { update: revokeUnder(true) } },
  ];
}
