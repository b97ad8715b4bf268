// The data layer's limits: pool size, how long a query may wait for a connection, the server-side
// timeouts every connection carries, when a stalled pool makes the process unhealthy, and whether
// statements are prepared (off behind a transaction pooler that cannot keep them).

/** What bounds the data layer's waits; read from the environment by shared/config. */
export interface DatabaseSettings {
  /** Connections in the pool (postgres.js); PGlite has one, whatever this says. */
  readonly poolMax: number;
  /**
   * How long a query or transaction may wait for a connection before it fails with the retryable
   * `db_pool_timeout`. Also how long a saturated pool may go without handing a connection back
   * before /readyz reports it stalled.
   */
  readonly poolWaitMs: number;
  /** `statement_timeout` of every connection: the server cancels a statement running longer. */
  readonly statementTimeoutMs: number;
  /**
   * `idle_in_transaction_session_timeout` of every connection: the server ends a session whose
   * transaction sits idle longer (a callback waiting on something else while it holds a connection).
   */
  readonly idleInTransactionTimeoutMs: number;
  /** How long the pool may stay stalled before /healthz fails and the orchestrator restarts the process. */
  readonly stallLivenessMs: number;
  /**
   * Named prepared statements: each statement text is parsed once per connection and then bound
   * in one round trip. Off behind a transaction-mode pooler that does not track them per client
   * (PgBouncer before 1.21, or `max_prepared_statements = 0`): a statement prepared on one server
   * connection is not there when the next transaction lands on another. Off, every statement with
   * parameters is described before it is bound, in the same transaction (one more round trip).
   * @see https://www.pgbouncer.org/features.html#prepared-statements
   */
  readonly prepare: boolean;
}

export const DEFAULT_DATABASE_SETTINGS: DatabaseSettings = Object.freeze({
  poolMax: 10,
  poolWaitMs: 5_000,
  statementTimeoutMs: 30_000,
  idleInTransactionTimeoutMs: 15_000,
  stallLivenessMs: 60_000,
  prepare: true,
});

/**
 * What is wrong with a set of settings, as `NAME: problem` lines (empty when they hold together).
 * The liveness threshold must leave the server's own timeouts and the pool wait time to act first:
 * a pool that only waits on them is not stuck.
 */
export function settingsProblems(s: DatabaseSettings, names: Record<keyof DatabaseSettings, string>): string[] {
  const longest = Math.max(s.poolWaitMs, s.statementTimeoutMs, s.idleInTransactionTimeoutMs);
  if (s.stallLivenessMs > longest) return [];
  return [`${names.stallLivenessMs}: must exceed ${names.poolWaitMs}, ${names.statementTimeoutMs} and ${names.idleInTransactionTimeoutMs} (${longest} ms)`];
}

/**
 * The startup parameters that set the server-side timeouts on a connection: sent in its startup
 * message, so they cost no statement and hold from the connection's first query.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE
 * @see https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-STATEMENT-TIMEOUT
 */
export function sessionParameters(s: DatabaseSettings): Record<string, string> {
  return {
    statement_timeout: `${s.statementTimeoutMs}ms`,
    idle_in_transaction_session_timeout: `${s.idleInTransactionTimeoutMs}ms`,
  };
}
