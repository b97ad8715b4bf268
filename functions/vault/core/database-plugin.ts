// The PostgreSQL side of the database secrets engine: one short-lived connection per operation to
// the target database (postgres.js), bounded in time (connect, statement, whole operation), running
// the role's templated statements in one transaction so that a failing statement leaves nothing.
// @see https://developer.hashicorp.com/vault/docs/secrets/databases/postgresql
import postgres from 'postgres';
import { invalidRequest, VaultError } from './errors.js';
import { renderStatement, type TemplateValues } from './sql-template.js';

/** Where and as whom the vault connects. */
export interface Target {
  connectionUrl: string;
  username: string;
  password: string | undefined;
}

export interface TargetLimits {
  /** Seconds to open the connection (default 5). */
  connectSeconds?: number;
  /** Milliseconds one statement may run (default 10,000). */
  statementMs?: number;
  /** Milliseconds the whole operation may take before the connection is cut (default 20,000). */
  totalMs?: number;
}

/** Vault's defaults for the PostgreSQL plugin. */
const DEFAULT_REVOCATION = [
  'REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM "{{name}}"; ' +
    'REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM "{{name}}"; ' +
    'REVOKE ALL PRIVILEGES ON ALL FUNCTIONS IN SCHEMA public FROM "{{name}}"; ' +
    'REVOKE ALL PRIVILEGES ON SCHEMA public FROM "{{name}}"; ' +
    'DROP ROLE IF EXISTS "{{name}}";',
];
const DEFAULT_RENEW = [`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';`];
export const DEFAULT_ROTATION = [`ALTER ROLE "{{name}}" WITH PASSWORD '{{password}}';`];
export const DEFAULT_ROOT_ROTATION = [`ALTER ROLE "{{username}}" WITH PASSWORD '{{password}}';`];

const PROTOCOLS = new Set(['postgres:', 'postgresql:']);

/** Checks a connection_url template: a postgres:// URL once its placeholders are filled. */
export function checkConnectionUrl(template: string): void {
  if (template.length > 2048) throw invalidRequest('connection_url is too long');
  let url: URL;
  try {
    url = new URL(fillUrl(template, 'u', 'p'));
  } catch {
    throw invalidRequest('connection_url is not a valid URL');
  }
  if (!PROTOCOLS.has(url.protocol)) throw invalidRequest('connection_url must be a postgres:// or postgresql:// URL');
  if (!url.hostname) throw invalidRequest('connection_url has no host');
}

function fillUrl(template: string, username: string, password: string): string {
  return template.replace(/\{\{\s*(username|password)\s*\}\}/g, (_, k: string) => encodeURIComponent(k === 'username' ? username : password));
}

/** connection_url as a read shows it: any password written into it replaced. */
export function redactUrl(template: string): string {
  try {
    const url = new URL(template);
    if (url.password && !/^\{\{\s*password\s*\}\}$/.test(decodeURIComponent(url.password))) url.password = '*****';
    return url.toString().replace(/%7B%7B(username|password)%7D%7D/gi, '{{$1}}');
  } catch {
    return template;
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED']);

/** A refusal of the target database; `sqlState` tells e.g. a wrong password (28P01) apart. */
export class TargetError extends VaultError {
  readonly sqlState: string | undefined;
  constructor(message: string, sqlState?: string) {
    super(400, 'database_error', [message]);
    this.name = 'TargetError';
    this.sqlState = sqlState;
  }
}

/** The target's refusal, or its absence, as a clear 400 (never a 5xx: it is the target, not the vault). */
function targetError(what: string, err: unknown, timedOut: boolean): VaultError {
  if (err instanceof VaultError) return err;
  if (timedOut) return new TargetError(`${what}: the database did not answer in time`);
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (e.name === 'PostgresError') return new TargetError(`${what}: ${String(e.message)} (SQLSTATE ${code})`, code);
  if (CONNECTION_CODES.has(code)) return new TargetError(`${what}: cannot connect to the database (${code})`);
  return new TargetError(`${what}: ${typeof e.message === 'string' ? e.message : 'database error'}`);
}

/**
 * Runs `fn` on a fresh connection to the target, closed afterwards. The connection is cut when the
 * whole operation outlasts `totalMs`: a target that is down or stuck answers an error, not a hang.
 */
async function withTarget<T>(what: string, target: Target, fn: (sql: postgres.Sql) => Promise<T>, limits: TargetLimits = {}): Promise<T> {
  const url = fillUrl(target.connectionUrl, target.username, target.password ?? '');
  let sql: postgres.Sql;
  try {
    sql = postgres(url, {
      max: 1,
      username: target.username,
      ...(target.password === undefined ? {} : { password: target.password }),
      connect_timeout: limits.connectSeconds ?? 5,
      idle_timeout: 1,
      max_lifetime: 60,
      prepare: false,
      onnotice: () => {},
      connection: { application_name: 'zenovault', statement_timeout: limits.statementMs ?? 10_000, lock_timeout: limits.statementMs ?? 10_000 },
    });
  } catch (err) {
    throw targetError(what, err, false);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void sql.end({ timeout: 0 }).catch(() => {});
  }, limits.totalMs ?? 20_000);
  try {
    return await fn(sql);
  } catch (err) {
    throw targetError(what, err, timedOut);
  } finally {
    clearTimeout(timer);
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

/** Runs the statements, templated, in one transaction: all of them or none. */
async function runAll(sql: postgres.Sql, statements: readonly string[], values: TemplateValues): Promise<void> {
  // Filled before the transaction: a bad template refuses the request before anything runs.
  const filled = statements.map((s) => renderStatement(s, values));
  await sql.begin(async (tx) => {
    for (const s of filled) await tx.unsafe(s).simple();
  });
}

const roleExists = async (sql: postgres.Sql, name: string) => (await sql`select 1 from pg_roles where rolname = ${name}`).length > 0;

/** Ends the sessions of a revoked user (best effort: it needs pg_signal_backend or superuser). */
async function terminateSessions(sql: postgres.Sql, name: string): Promise<void> {
  await sql`select pg_terminate_backend(pid) from pg_stat_activity where usename = ${name} and pid <> pg_backend_pid()`.catch(() => {});
}

export async function verifyConnection(target: Target, limits?: TargetLimits): Promise<void> {
  await withTarget('error verifying connection', target, async (sql) => {
    await sql`select 1`;
  }, limits);
}

/** Creates a dynamic user with the role's creation statements; a failure leaves no user. */
export async function createUser(target: Target, statements: readonly string[], values: Required<Pick<TemplateValues, 'name' | 'password' | 'expiration'>>, limits?: TargetLimits): Promise<void> {
  if (statements.length === 0) throw invalidRequest('the role has no creation statements');
  await withTarget('failed to create the database user', target, (sql) => runAll(sql, statements, { ...values, username: values.name }), limits);
}

/** Drops a dynamic user: done at once when it no longer exists (a revocation retried). */
export async function revokeUser(target: Target, name: string, statements: readonly string[], limits?: TargetLimits): Promise<void> {
  await withTarget('failed to revoke the database user', target, async (sql) => {
    if (!(await roleExists(sql, name))) return;
    await runAll(sql, statements.length > 0 ? statements : DEFAULT_REVOCATION, { name, username: name });
    await terminateSessions(sql, name);
  }, limits);
}

/** Moves a dynamic user's VALID UNTIL to the lease's new expiry. */
export async function renewUser(target: Target, name: string, statements: readonly string[], expiration: string, limits?: TargetLimits): Promise<void> {
  await withTarget('failed to renew the database user', target, async (sql) => {
    if (!(await roleExists(sql, name))) throw invalidRequest('failed to renew the database user: it no longer exists');
    await runAll(sql, statements.length > 0 ? statements : DEFAULT_RENEW, { name, username: name, expiration });
  }, limits);
}

/** Sets an existing user's password (static roles, rotate-root) with the statements, else `fallback`. */
export async function setPassword(target: Target, name: string, statements: readonly string[], password: string, fallback: readonly string[], limits?: TargetLimits): Promise<void> {
  await withTarget('failed to rotate the password', target, async (sql) => {
    if (!(await roleExists(sql, name))) throw invalidRequest(`failed to rotate the password: the database user does not exist`);
    await runAll(sql, statements.length > 0 ? statements : fallback, { name, username: name, password });
  }, limits);
}
