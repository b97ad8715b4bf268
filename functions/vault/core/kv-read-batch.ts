// The rows of KV v2 reads from concurrent requests, fetched in one statement: a read waits while
// `maxInFlight` statements run and then goes with every read queued behind it. Each read gets its
// secret's metadata row, the version row it asked for and the bounds its rollback check needs,
// exactly as a statement of its own would give them; the checks stay with the caller (core/kv.ts).
// One statement for many reads spares a round trip, a socket write and the database's per-statement
// work for each read after the first.
import { sql } from 'drizzle-orm';
import { rowsOf, type Queryable } from '#shared/db/index';

/** A read's row: kv_metadata's columns, the version's as `v_*`, `max_version` and `max_seq`; undefined when the path has no metadata. */
export type KvReadRow = Record<string, unknown>;

/** Fetches the row of one read (`version` 0: the current one). */
export type KvRowLoader = (mount: string, path: string, version: number) => Promise<KvReadRow | undefined>;

interface Pending {
  mount: string;
  path: string;
  version: number;
  resolve: (row: KvReadRow | undefined) => void;
  reject: (err: unknown) => void;
}

interface KvRowLoaderOptions {
  /** Most reads in one statement (default 64). */
  maxRows?: number;
  /** Statements in flight at once (default 2); more reads wait and go in the next one. */
  maxInFlight?: number;
}

/**
 * One statement for a batch of reads: the list goes as one JSON parameter, so the statement's text
 * is the same whatever the number of reads and is prepared once.
 */
const selectRows = (batch: readonly Pending[]) => sql`
  select q.n as q_n, m.*, v.mount as v_mount, v.path as v_path, v.version as v_version, v.ciphertext as v_ciphertext,
    v.wrapped_dek as v_wrapped_dek, v.created_at as v_created_at, v.deleted_at as v_deleted_at,
    v.destroyed as v_destroyed, v.seq as v_seq, v.mac as v_mac, b.max_version, b.max_seq
  from rows from (jsonb_to_recordset(${JSON.stringify(batch.map(({ mount, path, version }) => ({ mount, path, version })))}::jsonb)
    as (mount text, path text, version int)) with ordinality as q(mount, path, version, n)
  join vault.kv_metadata m on m.mount = q.mount and m.path = q.path
  cross join lateral (select max(version) as max_version, max(seq) as max_seq from vault.kv_versions
    where mount = m.mount and path = m.path) b
  left join vault.kv_versions v on v.mount = m.mount and v.path = m.path
    and v.version = case when q.version = 0 then m.current_version else q.version end`;

export function createKvRowLoader(db: Queryable, opts: KvRowLoaderOptions = {}): KvRowLoader {
  const maxRows = opts.maxRows ?? 64;
  const maxInFlight = opts.maxInFlight ?? 2;
  let queue: Pending[] = [];
  let inFlight = 0;

  const settle = async (batch: Pending[]): Promise<void> => {
    try {
      const byN = new Map<number, KvReadRow>();
      for (const r of rowsOf<KvReadRow>(await db.execute(selectRows(batch)))) byN.set(Number(r.q_n), r);
      batch.forEach((p, i) => p.resolve(byN.get(i + 1)));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  };

  const pump = (): void => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.slice(0, maxRows);
      queue = queue.slice(maxRows);
      inFlight++;
      void settle(batch).finally(() => {
        inFlight--;
        pump();
      });
    }
  };

  return (mount, path, version) =>
    new Promise<KvReadRow | undefined>((resolve, reject) => {
      queue.push({ mount, path, version, resolve, reject });
      pump();
    });
}
