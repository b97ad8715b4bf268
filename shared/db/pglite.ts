// The data layer on the embedded PGlite: one connection, so transactions and statements take
// turns. Each takes the gate's only permit, a transaction for its whole life; a statement that
// cannot have it within the pool wait deadline fails with the retryable `db_pool_timeout`
// instead of queuing behind the transaction for good (PGlite's own queue has no deadline, and a
// statement sent on the database from inside a transaction would wait on that transaction).
import { mkdir } from 'node:fs/promises';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { createConnectionGate } from './gate.js';
import type { Database, Db, TransactionOptions, Tx } from './database.js';
import { rowsOf } from './rows.js';
import type { DatabaseSettings } from './settings.js';

/** How long close() waits for PGlite, which waits for a running transaction to end first. */
const CLOSE_WAIT_MS = 5_000;

/** Opens PGlite on a directory (`memory://` for an in-memory instance). */
export async function openPglite(dir: string, settings: DatabaseSettings): Promise<Database> {
  const [{ PGlite }, { drizzle, PgliteSession, PgliteTransaction }, { PgDialect }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pg-core'),
  ]);
  // Made only once PGlite is there: without it, nothing is written.
  await mkdir(dir, { recursive: true });
  const pg: PGlite = await PGlite.create(dir);
  const gate = createConnectionGate(1, settings.poolWaitMs);
  // What drizzle's pglite session calls on its client: every statement takes the permit.
  const client = {
    query: (text: string, params: unknown[], options: unknown) => gate.run(() => pg.query(text, params, options as never)),
    transaction: () => {
      throw new TypeError('open transactions with database.transaction(), not on the pool-level drizzle handle');
    },
  };
  const db = drizzle({ client: client as unknown as PGlite, casing: 'snake_case' }) as unknown as Db;
  const dialect = new PgDialect({ casing: 'snake_case' });
  let closed = false;
  return {
    kind: 'pglite',
    db,
    settings,
    transaction: <T>(fn: (tx: Tx) => Promise<T>, opts?: TransactionOptions) =>
      gate.run(() =>
        pg.transaction(async (t: Transaction) => {
          // Built as drizzle's own transaction() builds it, on PGlite's transaction.
          const tx = new PgliteTransaction(dialect, new PgliteSession(t, dialect, undefined), undefined) as unknown as Tx;
          if (opts) await tx.setTransaction(opts);
          return fn(tx);
        }),
      ),
    query: async (statement) => rowsOf(await db.execute(statement)),
    listen: async (channel, onPayload) => {
      const off = await pg.listen(channel, onPayload);
      return async () => {
        if (!closed) await off();
      };
    },
    ping: async () => {
      try {
        await gate.run(() => pg.query('select 1'));
        return true;
      } catch {
        return false;
      }
    },
    health: () => gate.health(),
    close: async () => {
      if (closed) return;
      closed = true;
      gate.close();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([pg.close(), new Promise<void>((r) => (timer = setTimeout(r, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    },
  };
}
