// What a database writer does to the vault's rows in the integrity and rollback tests, and what
// the tests read back: a row copied and put back byte for byte, the integrity-failure counter
// and the audit rows of refused requests.
import { sql } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import type { VaultServer } from './vault-server.js';

export type Row = Record<string, unknown>;

/** Vault's answer to a row that does not authenticate or is older than one the vault saw. */
export const REFUSED = { errors: ['integrity check failed'] };

export function databaseWriter(database: Database, vs: VaultServer) {
  const q = <T extends Row>(query: ReturnType<typeof sql>) => database.query<T>(query);
  const table = (name: string) => sql.raw(`vault.${name}`);
  return {
    q,
    /** A row as JSON (bytea as PostgreSQL's hex text), so that putBack restores it byte for byte. */
    async copyOf(name: string, key: string, value: string): Promise<Row> {
      const [row] = await q<{ r: Row }>(sql`select to_jsonb(t) as r from ${table(name)} t where ${sql.identifier(key)} = ${value}`);
      if (!row) throw new Error(`no row ${key} = ${value} in ${name}`);
      return row.r;
    },
    /** Puts `row` into `name` as it is (every column), replacing whatever has its key now. */
    async putBack(name: string, key: string, row: Row): Promise<void> {
      await q(sql`delete from ${table(name)} where ${sql.identifier(key)} = ${row[key]}`);
      await q(sql`insert into ${table(name)} select * from jsonb_populate_record(null::${table(name)}, ${JSON.stringify(row)}::jsonb)`);
    },
    /** How many times rows of `name` were refused, over the api's and the unsealer's registries. */
    async failures(name: string): Promise<number> {
      let n = 0;
      for (const line of (await vs.metricsText()).split('\n')) {
        const m = /^zeno_vault_integrity_failures_total\{table="([^"]+)"\} (\d+)/.exec(line);
        if (m && m[1] === name) n += Number(m[2]);
      }
      return n;
    },
    /** The audit log's last seq: refusedAudits counts after it. */
    async lastSeq(): Promise<number> {
      return (await q<{ s: number }>(sql`select coalesce(max(seq), 0)::int as s from vault.audit_log`))[0]!.s;
    },
    /** Audit rows of `path` refused for integrity since `afterSeq`. */
    async refusedAudits(path: string, afterSeq: number): Promise<number> {
      const [row] = await q<{ n: number }>(sql`select count(*)::int as n from vault.audit_log where path = ${path} and seq > ${afterSeq}
        and error = 'integrity check failed'`);
      return row!.n;
    },
  };
}

export type DatabaseWriter = ReturnType<typeof databaseWriter>;
