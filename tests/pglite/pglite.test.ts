// Every test of a code path that differs on the embedded PGlite (the default of `npm start`).
// PGlite is heavy to open (seconds and hundreds of MB for a fresh data directory), so this one
// file opens one instance for the whole run and hands it to each suite; the last test reopens
// the same directory to show the data survives a restart.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'drizzle-orm';
import { openDatabase, type Database } from '#shared/db/index';
import { discoverMigrationSets, migrate } from '#shared/db/migrate';
import { authSuite } from './auth.suite.js';
import { dataLayerSuite } from './data-layer.suite.js';
import { eventsSuite } from './events.suite.js';
import { samlSuite } from './saml.suite.js';
import { vaultSuite } from './vault.suite.js';

let dataDir: string;
let database: Database | undefined;
const db = (): Database => {
  if (!database) throw new TypeError('PGlite is not open');
  return database;
};

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'zk-pglite-'));
  database = await openDatabase({ dataDir });
  await migrate(database, discoverMigrationSets(undefined, { fixtures: true }));
});
after(async () => {
  await database?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

dataLayerSuite(db);
eventsSuite(db);
vaultSuite(db);
authSuite(db);
samlSuite(db);

describe('PGlite data directory', () => {
  it('keeps its data across a restart', async () => {
    await db().close();
    database = await openDatabase({ dataDir });
    const rows = await db().query<{ name: string }>(sql`select name from shop.items`);
    assert.deepEqual(rows.map((r) => r.name), ['kept']);
  });
});
