// Applies the drizzle-kit SQL migrations of each schema owner, once, under an advisory lock.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { rowsOf, type Database } from './index.js';
import { projectRoot } from './root.js';

/** One owner's migrations: a product's `core/migrations` or the broker's. */
export interface MigrationSet {
  /** The Postgres schema the set owns (`auth`, `vault`, `eventing`, …). */
  name: string;
  dir: string;
}

interface Migration {
  tag: string;
  statements: string[];
  hash: string;
}

/** Lock namespace for migrations (first key of the two-key advisory lock). */
const LOCK_NAMESPACE = 0x7a656e6f; // "zeno"

/**
 * Finds every migration set in the project: `functions/<product>/core/migrations`, `eventing/migrations`;
 * with `fixtures`, also the test fixtures' `tests/fixtures/functions/<product>/core/migrations`
 * (only the test template database applies those).
 */
export function discoverMigrationSets(root = projectRoot(), opts: { fixtures?: boolean } = {}): MigrationSet[] {
  const sets: MigrationSet[] = [];
  if (opts.fixtures) {
    const fixtures = join(root, 'tests', 'fixtures', 'functions');
    if (existsSync(fixtures)) {
      for (const product of readdirSync(fixtures).sort()) {
        const dir = join(fixtures, product, 'core', 'migrations');
        if (existsSync(join(dir, 'meta', '_journal.json'))) sets.push({ name: product, dir });
      }
    }
  }
  const eventing = join(root, 'eventing', 'migrations');
  if (existsSync(eventing)) sets.push({ name: 'eventing', dir: eventing });
  const functions = join(root, 'functions');
  if (existsSync(functions)) {
    for (const product of readdirSync(functions).sort()) {
      const dir = join(functions, product, 'core', 'migrations');
      if (existsSync(join(dir, 'meta', '_journal.json'))) sets.push({ name: product, dir });
    }
  }
  return sets;
}

/** Reads a drizzle-kit migrations folder in journal order. */
function readMigrations(dir: string): Migration[] {
  const journal = JSON.parse(readFileSync(join(dir, 'meta', '_journal.json'), 'utf8')) as {
    entries: { tag: string }[];
  };
  return journal.entries.map(({ tag }) => {
    const text = readFileSync(join(dir, `${tag}.sql`), 'utf8');
    return {
      tag,
      hash: createHash('sha256').update(text).digest('hex'),
      statements: text
        .split('--> statement-breakpoint')
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    };
  });
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/**
 * Applies every pending migration of each set, each set in one transaction that first
 * takes a transaction-scoped advisory lock: two processes migrating at once serialise,
 * and the second finds nothing left to do. Applying twice is a no-op.
 * Returns the tags applied now.
 */
export async function migrate(database: Database, sets: MigrationSet[] = discoverMigrationSets()): Promise<string[]> {
  const applied: string[] = [];
  await database.transaction(async (tx) => {
    // CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin: serialise it too.
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE}, 0)`);
    await tx.execute(
      sql`create table if not exists public.zeno_migrations (
        set_name text not null, tag text not null, hash text not null,
        applied_at timestamptz not null default now(), primary key (set_name, tag))`,
    );
  });
  for (const set of sets) {
    const migrations = readMigrations(set.dir);
    await database.transaction(async (tx) => {
      // A migration may rewrite a large table or build an index: the connections' statement
      // timeout is for requests, not for it. SET LOCAL ends with the transaction.
      await tx.execute(sql`set local statement_timeout = 0`);
      await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_NAMESPACE}, hashtext(${set.name}))`);
      const rows = rowsOf<{ tag: string; hash: string }>(
        await tx.execute(sql`select tag, hash from public.zeno_migrations where set_name = ${set.name}`),
      );
      const done = new Map(rows.map((r) => [r.tag, r.hash]));
      for (const m of migrations) {
        const prior = done.get(m.tag);
        if (prior !== undefined) {
          if (prior !== m.hash) {
            throw new MigrationError(`migration ${set.name}/${m.tag} was changed after it was applied`);
          }
          continue;
        }
        for (const statement of m.statements) await tx.execute(sql.raw(statement));
        await tx.execute(
          sql`insert into public.zeno_migrations (set_name, tag, hash) values (${set.name}, ${m.tag}, ${m.hash})`,
        );
        applied.push(`${set.name}/${m.tag}`);
      }
    });
  }
  return applied;
}

/** True when every migration of every set has been applied (for /readyz). */
export async function migrationsApplied(database: Database, sets: MigrationSet[] = discoverMigrationSets()): Promise<boolean> {
  try {
    const rows = await database.query<{ set_name: string; tag: string }>(
      sql`select set_name, tag from public.zeno_migrations`,
    );
    const have = new Set(rows.map((r) => `${r.set_name}/${r.tag}`));
    return sets.every((s) => readMigrations(s.dir).every((m) => have.has(`${s.name}/${m.tag}`)));
  } catch {
    return false;
  }
}
