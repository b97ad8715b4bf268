// Failures of the database that say nothing about the request: the client may send it again.
// Each carries a stable code; the HTTP layer answers 503 with Retry-After in its protocol's shape.

/** Why the database could not serve a request that may succeed when sent again. */
type UnavailableCode =
  /** No connection was free within the pool wait deadline. */
  | 'db_pool_timeout'
  /** The connection was lost (backend ended, server restarted) and the work could not be retried safely. */
  | 'db_connection_lost'
  /** The server cancelled a statement at its `statement_timeout`, or ended an idle transaction. */
  | 'db_timeout'
  /** The server rolled the transaction back to resolve a conflict (serialization failure, deadlock). */
  | 'db_conflict'
  /** The data layer is closing (SIGTERM). */
  | 'db_closed';

/** A retryable database failure, with a stable `code`; the original error is its `cause`. */
export class DatabaseUnavailableError extends Error {
  readonly code: UnavailableCode;
  /** Seconds a client should wait before sending the request again (HTTP Retry-After). */
  readonly retryAfterSeconds: number;

  constructor(code: UnavailableCode, message: string, opts: { cause?: unknown; retryAfterSeconds?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DatabaseUnavailableError';
    this.code = code;
    this.retryAfterSeconds = opts.retryAfterSeconds ?? 1;
  }
}

/** SQLSTATEs that mean "the same request may succeed later", by the code they get here. */
const RETRYABLE_SQLSTATES: Record<string, UnavailableCode> = {
  // query_canceled: statement_timeout (or a cancel request).
  '57014': 'db_timeout',
  // idle_in_transaction_session_timeout ended the session.
  '25P03': 'db_timeout',
  // admin_shutdown, crash_shutdown, cannot_connect_now: the server went away or is starting.
  '57P01': 'db_connection_lost',
  '57P02': 'db_connection_lost',
  '57P03': 'db_connection_lost',
  // serialization_failure, deadlock_detected.
  '40001': 'db_conflict',
  '40P01': 'db_conflict',
};

const CAUSE_DEPTH = 4;

/** `err`, or an error in its `cause` chain (drizzle wraps the driver's), that is a DatabaseUnavailableError. */
function foundIn(err: unknown): DatabaseUnavailableError | undefined {
  let e = err;
  for (let i = 0; i < CAUSE_DEPTH && e && typeof e === 'object'; i++) {
    if (e instanceof DatabaseUnavailableError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The retryable database failure `err` stands for, if it is one: a DatabaseUnavailableError
 * anywhere in its cause chain, or a driver error whose SQLSTATE or connection code says so.
 * Anything else (a constraint violation, a bug) is not retryable and gives undefined.
 */
export function asDatabaseUnavailable(err: unknown): DatabaseUnavailableError | undefined {
  const known = foundIn(err);
  if (known) return known;
  let e = err;
  for (let i = 0; i < CAUSE_DEPTH && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') {
      const mapped = RETRYABLE_SQLSTATES[code] ?? (isConnectionFailure(e) ? 'db_connection_lost' : undefined);
      if (mapped) return new DatabaseUnavailableError(mapped, `the database could not serve the request (${code})`, { cause: err });
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * An error that means the connection is gone or going: a socket error, one of postgres.js's
 * connection errors (CONNECTION_CLOSED, CONNECTION_ENDED, CONNECTION_DESTROYED, CONNECT_TIMEOUT),
 * or a FATAL/PANIC from the server, which closes the session after sending it.
 */
export function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown; severity?: unknown } | null;
  if (!e || typeof e !== 'object') return false;
  if (typeof e.syscall === 'string' || e.severity === 'FATAL' || e.severity === 'PANIC') return true;
  return typeof e.code === 'string' && (e.code.startsWith('CONNECT') || e.code === 'ECONNRESET' || e.code === 'ECONNREFUSED' || e.code === 'EPIPE');
}

/** The driver error under drizzle's wrapping (DrizzleQueryError keeps it as `cause`). */
export function driverError(err: unknown): unknown {
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause && typeof cause === 'object' && 'code' in cause ? cause : err;
}
