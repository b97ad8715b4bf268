// The public sys/ endpoints the unsealer serves: init, unseal, seal, seal-status, health.
// @see https://developer.hashicorp.com/vault/api-docs/system/seal-status
// @see https://developer.hashicorp.com/vault/api-docs/system/health
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import type { Database } from '#shared/db/index';
import type { AppEnv } from '#shared/http/app';
import type { Acl } from '#functions/vault/core/acl';
import { newLineKey, writeAudit, type AuditEntry } from '#functions/vault/core/audit';
import { permissionDenied, invalidRequest, unsupportedOperation, VaultError } from '#functions/vault/core/errors';
import { IntegrityError } from '#functions/vault/core/integrity';
import { aclFor } from '#functions/vault/core/policy-store';
import type { Token } from '#functions/vault/core/schema';
import { useToken } from '#functions/vault/core/tokens';
import { boolField, intField } from '#functions/vault/core/wire';
import { json, noContent, readBody, tokenFrom, unsupportedFeature } from '#functions/vault/http/wire';
import type { SealWrapper } from '#functions/vault/core/seal';
import type { Ceremonies } from './ceremony.js';
import { ceremonyRoutes } from './ceremony-routes.js';
import { initialize } from './init.js';
import { decodeShare, type Keyring, type SealState } from './keyring.js';

const VERSION = '1.15.0+zenokube';
const BUILD_DATE = '2026-01-01T00:00:00Z';

function sealStatus(s: SealState, clusterId: string) {
  return {
    type: s.type,
    initialized: s.initialized,
    sealed: s.sealed,
    t: s.t,
    n: s.n,
    progress: s.progress,
    nonce: s.nonce,
    version: VERSION,
    build_date: BUILD_DATE,
    migration: false,
    recovery_seal: s.type !== 'shamir',
    storage_type: 'postgresql',
    ...(s.sealed ? {} : { cluster_name: 'zenokube', cluster_id: clusterId }),
  };
}

/** A status code override from the health query (`sealedcode=200` …); Vault accepts integers. */
function codeParam(url: URL, name: string, fallback: number): number {
  const v = url.searchParams.get(name);
  if (v === null) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100 || n > 599) throw invalidRequest(`invalid value for "${name}"`);
  return n;
}

export function sysRoutes(
  database: Database,
  keyring: Keyring,
  clusterId: string,
  seal: SealWrapper | undefined,
  onSeal: () => void,
  ceremonies?: Ceremonies,
): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const writes = ['PUT', 'POST'];
  app.use(async (c, next) => {
    const refusal = unsupportedFeature(c.req.raw.headers);
    if (refusal) throw invalidRequest(refusal);
    await next();
  });

  app.all('/sys/init', async (c) => {
    if (c.req.method === 'GET') return json({ initialized: (await keyring.state()).initialized });
    if (!writes.includes(c.req.method)) throw unsupportedOperation();
    const body = await readBody(c.req.raw);
    if (body.pgp_keys || body.root_token_pgp_key) throw invalidRequest('PGP-encrypted key shares are not supported');
    // With an auto-unseal seal, Vault takes recovery_shares/recovery_threshold (default 5 of 3).
    const shares = seal ? (intField(body, 'recovery_shares') ?? 5) : intField(body, 'secret_shares');
    const threshold = seal ? (intField(body, 'recovery_threshold') ?? 3) : intField(body, 'secret_threshold');
    if (shares === undefined || threshold === undefined) throw invalidRequest('secret_shares and secret_threshold are required');
    return json(await initialize(database, keyring, shares, threshold, seal));
  });

  app.all('/sys/unseal', async (c) => {
    if (!writes.includes(c.req.method)) throw unsupportedOperation();
    const body = await readBody(c.req.raw);
    if (boolField(body, 'reset')) {
      keyring.resetProgress();
      return json(sealStatus(await keyring.state(), clusterId));
    }
    const key = body.key;
    if (typeof key !== 'string' || key === '') {
      throw invalidRequest("'key' must be specified in request body as JSON, or 'reset' set to true");
    }
    const state = await keyring.submitShare(decodeShare(key));
    return json(sealStatus(state, clusterId));
  });

  app.all('/sys/seal', async (c) => {
    if (!writes.includes(c.req.method)) throw unsupportedOperation();
    const token = tokenFrom(c.req.raw.headers);
    if (keyring.isSealed()) return noContent();
    const remoteAddress = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
    // Audited like every api request; a failed audit write fails the seal (the key stays).
    const audit = async (entry: Pick<AuditEntry, 'accessor' | 'policies' | 'decision' | 'error'>) => {
      const auditKey = await keyring.auditKey();
      const line = newLineKey(auditKey);
      auditKey.fill(0);
      try {
        await writeAudit(database.db, line, {
          type: 'request',
          requestId: c.get('requestId') ?? '',
          operation: 'update',
          path: 'sys/seal',
          remoteAddress,
          ...entry,
        });
      } catch {
        throw new VaultError(500, 'internal_error', ['internal error']);
      } finally {
        line.key.fill(0);
      }
    };
    let row: Token | undefined;
    let acl: Acl;
    try {
      const mac = await keyring.rowMac();
      row = token ? await useToken(database.db, mac, token) : undefined;
      if (!row) throw permissionDenied();
      acl = await aclFor(database.db, mac, row.policies);
    } catch (err) {
      // A forged token or policy row: refused, and the audit row says so.
      if (err instanceof IntegrityError) {
        await audit({ accessor: row?.accessor, policies: row?.policies, decision: 'deny', error: err.messages.join('; ') });
      }
      throw err;
    }
    // Vault requires sudo on sys/seal (and update).
    const allowed = acl.allows('sys/seal', 'sudo') && acl.allows('sys/seal', 'update');
    await audit({ accessor: row.accessor, policies: row.policies, decision: allowed ? 'allow' : 'deny', ...(allowed ? {} : { error: 'permission denied' }) });
    if (!allowed) throw permissionDenied();
    // The seal epoch moves before the keys go and before the answer: every api replica checks it
    // in the statement that writes a request's audit rows, so none answers from its caches once
    // this returns. Without the database the seal fails and the vault stays unsealed (retry).
    try {
      await database.db.execute(sql`update vault.seal_config set seal_epoch = seal_epoch + 1 where id = 1`);
    } catch {
      throw new VaultError(503, 'seal_failed', ['the seal could not be recorded in storage; the vault is still unsealed, retry']);
    }
    keyring.wipe();
    onSeal();
    return noContent();
  });

  app.get('/sys/seal-status', async () => json(sealStatus(await keyring.state(), clusterId)));

  app.on(['GET', 'HEAD'], '/sys/health', async (c) => {
    const url = new URL(c.req.url);
    const s = await keyring.state();
    const status = !s.initialized
      ? codeParam(url, 'uninitcode', 501)
      : s.sealed
        ? codeParam(url, 'sealedcode', 503)
        : codeParam(url, 'activecode', 200);
    // This vault is never a standby, DR secondary or performance standby: those codes (429, 472,
    // 473) and standbyok/perfstandbyok never change the answer.
    const body = {
      initialized: s.initialized,
      sealed: s.sealed,
      standby: false,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(Date.now() / 1000),
      version: VERSION,
      ...(s.sealed ? {} : { cluster_name: 'zenokube', cluster_id: clusterId }),
    };
    // A 5xx here is the vault's state, not a failing replica: with Retry-After the ingress does
    // not count it against the unsealer's endpoint (health checks of a sealed vault must not open
    // the circuit in front of sys/unseal).
    const headers: Record<string, string> = status >= 500 ? { 'retry-after': '1' } : {};
    if (c.req.method === 'HEAD') return new Response(null, { status, headers });
    const res = json(body, status);
    for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
    return res;
  });

  if (ceremonies) ceremonyRoutes(app, ceremonies);

  return app;
}
