// Test databases on the real PostgreSQL: one database per test file, cloned from a template
// that has every migration applied, so files run in parallel without sharing rows.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { openDatabase, type Database, type DatabaseSettings } from '#shared/db/index';
import { discoverMigrationSets, migrate } from '#shared/db/migrate';

/** The server tests use; trust auth on the loopback by default. */
const TEST_SERVER_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function urlFor(dbName: string): string {
  const u = new URL(TEST_SERVER_URL);
  u.pathname = `/${dbName}`;
  return u.toString();
}

function migrationsHash(): string {
  const h = createHash('sha256');
  for (const set of discoverMigrationSets(undefined, { fixtures: true })) {
    h.update(set.name);
    for (const f of readdirSync(set.dir).filter((x) => x.endsWith('.sql')).sort()) {
      h.update(f).update(readFileSync(join(set.dir, f)));
    }
  }
  return h.digest('hex').slice(0, 16);
}

async function ensureTemplate(admin: postgres.Sql): Promise<string> {
  const name = `zk_tpl_${migrationsHash()}`;
  const reserved = await admin.reserve();
  try {
    // Session-level lock: one file builds the template, the others wait for it.
    await reserved`select pg_advisory_lock(7265, 1)`;
    const [exists] = await reserved`select 1 from pg_database where datname = ${name}`;
    if (!exists) {
      const building = `${name}_build_${randomBytes(4).toString('hex')}`;
      await reserved.unsafe(`create database "${building}"`);
      const db = await openDatabase({ url: urlFor(building), max: 2 });
      try {
        await migrate(db, discoverMigrationSets(undefined, { fixtures: true }));
      } finally {
        await db.close();
      }
      await reserved.unsafe(`alter database "${building}" rename to "${name}"`);
    }
  } finally {
    await reserved`select pg_advisory_unlock(7265, 1)`;
    reserved.release();
  }
  return name;
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  readonly database: Database;
  /** Closes the connections and drops the database. */
  drop(): Promise<void>;
}

/** Creates a fresh, fully migrated database for one test file; `settings` override the data layer's defaults. */
export async function createTestDatabase(opts: { max?: number; settings?: Partial<DatabaseSettings> } = {}): Promise<TestDatabase> {
  const admin = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} });
  try {
    const template = await ensureTemplate(admin);
    const name = `zk_test_${randomBytes(6).toString('hex')}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(`create database "${name}" template "${template}"`);
        break;
      } catch (err) {
        // Another file cloning the same template at this instant: try again shortly.
        if (attempt > 20 || !/being accessed by other users/.test(String(err))) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
    const url = urlFor(name);
    const database = await openDatabase({ url, max: opts.max ?? 10, ...(opts.settings ? { settings: opts.settings } : {}) });
    return {
      name,
      url,
      database,
      drop: async () => {
        await database.close();
        const a = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} });
        try {
          await a.unsafe(`drop database if exists "${name}" with (force)`);
        } finally {
          await a.end();
        }
      },
    };
  } finally {
    await admin.end();
  }
}

/** Creates an empty database (no migrations) for tests of the migrator itself. */
export async function createEmptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} });
  const name = `zk_test_${randomBytes(6).toString('hex')}`;
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  return {
    url: urlFor(name),
    drop: async () => {
      const a = postgres(TEST_SERVER_URL, { max: 1, onnotice: () => {} });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}
