// One Vault request, end to end: seal check, body, route, token, ACL, audit in, handler, audit out.
// A failed audit write fails the request, as Vault does. Audit rows of concurrent requests go in
// one INSERT, which also checks the seal epoch: a request whose rows land after a seal (or whose
// batch fails) answers 503 and nothing it read leaves.
// @see https://developer.hashicorp.com/vault/docs/audit#blocked-audit-devices
import type { Database } from '#shared/db/index';
import type { Logger } from '#shared/log/index';
import type { Capability } from '#functions/vault/core/acl';
import { SealedSinceError, type AuditEntry, type AuditWriter } from '#functions/vault/core/audit';
import { addressAllowed } from '#functions/vault/core/cidr';
import { VaultError, invalidRequest, permissionDenied, sealedError, toVaultError, unsupportedOperation } from '#functions/vault/core/errors';
import { IntegrityError } from '#functions/vault/core/integrity';
import type { AclCache } from '#functions/vault/core/policy-store';
import { peekToken, useToken } from '#functions/vault/core/tokens';
import { envelope } from '#functions/vault/core/wire';
import { json, readBody, tokenFrom, unsupportedNamespace } from '#functions/vault/http/wire';
import { respondWrapped } from './response-wrapping.js';
import type { Operation, VaultRequest, VaultResponse, VaultRoute } from './route.js';
import type { TokenCache } from './token-cache.js';
import type { UnsealerClient } from './unsealer-client.js';

const BASE = '/vault/v1/';
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

function operationOf(method: string, query: URLSearchParams): Operation | undefined {
  switch (method) {
    case 'GET':
    case 'HEAD':
      // Vault parses `list` with Go's strconv.ParseBool: node-vault sends list=1, ESO list=true.
      return TRUE.has(query.get('list') ?? '') ? 'list' : 'read';
    case 'LIST':
      return 'list';
    case 'POST':
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    default:
      return undefined;
  }
}

interface PipelineDeps {
  database: Database;
  log: Logger;
  unsealer: UnsealerClient;
  routes: VaultRoute[];
  acls: AclCache;
  tokens: TokenCache;
  audits: AuditWriter;
}

const internal = () => new VaultError(500, 'internal_error', ['internal error']);

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

/**
 * Why a request is refused whatever its route: a control character in its path (PostgreSQL
 * stores no NUL, and no Vault path holds one), or a namespace other than the root one, which this
 * vault does not implement.
 */
function refusalOf(path: string, headers: Headers): string | undefined {
  if (path.search(CONTROL) >= 0) return 'invalid path: it contains a control character';
  return unsupportedNamespace(headers);
}

/** Whether a request may revoke, renew or change a token or a policy (the token cache then empties). */
const changesTokens = (operation: Operation, path: string) =>
  operation !== 'read' && operation !== 'list' && (path.startsWith('auth/token/') || path.startsWith('sys/'));

/** The path as the audit device may store it: control characters as `\uXXXX`. */
const printable = (path: string) => path.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function createPipeline(deps: PipelineDeps) {
  const { database, unsealer, routes, log, acls, tokens, audits } = deps;

  return async (raw: Request, requestId: string, remoteAddress: string | undefined): Promise<Response> => {
    const url = new URL(raw.url);
    let rawPath: string;
    try {
      rawPath = decodeURIComponent(url.pathname.slice(BASE.length));
    } catch {
      throw invalidRequest('invalid path encoding');
    }
    const operation = operationOf(raw.method, url.searchParams);
    if (!operation) throw unsupportedOperation();
    let auditState = await unsealer.auditState();
    const body = operation === 'read' || operation === 'list' ? {} : await readBody(raw);
    // Lists address folders: Vault keeps their trailing slash for ACL matching.
    const path = operation === 'list' ? rawPath.replace(/\/*$/, '/') : rawPath.replace(/\/+$/, '');
    const routePath = path.replace(/\/+$/, '');
    const refusal = refusalOf(rawPath, raw.headers);
    const auditPath = printable(path);

    let route: VaultRoute | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of routes) {
      match = r.pattern.exec(routePath);
      if (match) {
        route = r;
        break;
      }
    }

    const clientToken = tokenFrom(raw.headers);
    const contentType = (raw.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const req: VaultRequest = { requestId, operation, path, query: url.searchParams, body, contentType, remoteAddress, token: undefined, clientToken, acl: undefined };
    const entry = (type: AuditEntry['type'], decision: AuditEntry['decision']): AuditEntry => ({
      type,
      requestId,
      operation,
      path: auditPath,
      remoteAddress,
      accessor: req.token?.accessor,
      policies: req.token?.policies,
      decision,
    });
    const audit = async (...entries: [AuditEntry, ...AuditEntry[]]) => {
      try {
        try {
          // A generation ended while this request ran (its key is zeroed): the current one's.
          if (!auditState.live()) auditState = await unsealer.auditState();
          await audits.write(auditState.key, auditState.epoch, entries);
        } catch (err) {
          if (!(err instanceof SealedSinceError)) throw err;
          // Sealed since the keys in hand were learnt: every cached key goes. Still sealed, the
          // unsealer says so (503) and nothing is answered; unsealed again since, the rows are
          // written under the new generation's key.
          unsealer.flush(auditState);
          auditState = await unsealer.auditState();
          await audits.write(auditState.key, auditState.epoch, entries);
        }
      } catch (err) {
        if (err instanceof SealedSinceError) throw sealedError();
        if (err instanceof VaultError) throw err;
        log.error('audit write failed', { request_id: requestId, err });
        // Nothing is answered unaudited; a database that is unavailable for now is worth a retry.
        throw toVaultError(err) ?? internal();
      }
    };

    if (!route?.unauthenticated) {
      try {
        const mac = await unsealer.rowMac();
        req.token = clientToken
          ? await tokens.get(clientToken, { peek: () => peekToken(database.db, mac, clientToken), use: () => useToken(database.db, mac, clientToken) })
          : undefined;
        if (req.token) req.acl = await acls.get(req.token.policies);
      } catch (err) {
        // A token or policy row the vault did not write: refused, and the audit row says why.
        if (err instanceof IntegrityError) await audit({ ...entry('request', 'deny'), error: err.messages.join('; '), data: body });
        throw err;
      }
      // A token bound to CIDR blocks (token_bound_cidrs of its login) works only from them; the
      // check runs on every request, for a cached row as for a fresh one.
      if (!req.token || !addressAllowed(remoteAddress, req.token.boundCidrs)) {
        await audit({ ...entry('request', 'deny'), error: 'permission denied', data: body });
        throw permissionDenied();
      }
    }
    if (refusal) {
      await audit({ ...entry('request', req.token ? 'allow' : 'none'), error: refusal, data: body });
      throw invalidRequest(refusal);
    }
    if (!route || !match) {
      await audit({ ...entry('request', req.token ? 'allow' : 'none'), error: 'unsupported path', data: body });
      throw new VaultError(404, 'no_route', [`no handler for route "${routePath}". route entry not found.`]);
    }
    const handler = route.handlers[operation];
    if (!handler) {
      await audit({ ...entry('request', 'none'), error: 'unsupported operation', data: body });
      throw unsupportedOperation();
    }
    if (req.acl) {
      const needed: Capability = route.capability ? await route.capability(req, match) : operation;
      const allowed = req.acl.allows(path, needed) && (!route.sudo || req.acl.allows(path, 'sudo'));
      if (!allowed) {
        await audit({ ...entry('request', 'deny'), error: 'permission denied', data: body });
        throw permissionDenied();
      }
    }
    const decision = route.unauthenticated ? 'none' : 'allow';
    const requestEntry: AuditEntry = { ...entry('request', decision), data: body };
    // A handler that changes nothing may run before its request row is stored: both rows then go
    // in one statement before the answer leaves. Anything else is audited before it runs.
    const deferred = route.readsOnly === true && (operation === 'read' || operation === 'list');
    if (!deferred) await audit(requestEntry);
    const respond = (e: AuditEntry) => (deferred ? audit(requestEntry, e) : audit(e));

    let res: VaultResponse;
    try {
      res = await respondWrapped({ database, unsealer }, raw.headers, req, () => handler(req, match));
    } catch (err) {
      if (changesTokens(operation, routePath)) tokens.clear();
      const known = toVaultError(err);
      if (!known || known !== err) log.error('vault handler failed', { request_id: requestId, path: routePath, err });
      const e = known ?? internal();
      await respond({ ...entry('response', decision), status: e.status, error: e.messages.join('; ') });
      throw e;
    }
    // A token revoked, renewed or changed here, or a policy changed, is looked up afresh.
    if (changesTokens(operation, routePath)) tokens.clear();
    await respond({ ...entry('response', decision), status: res.status, data: res.auditData ?? res.body });
    if (res.status === 204 || !res.body) return new Response(null, { status: 204 });
    return json(res.body, res.status);
  };
}

/** Helper for handlers: a 200 with Vault's envelope. */
export const ok = (req: VaultRequest, parts: Parameters<typeof envelope>[1], status = 200): VaultResponse => ({
  status,
  body: envelope(req.requestId, parts),
});

export const done = (): VaultResponse => ({ status: 204 });
