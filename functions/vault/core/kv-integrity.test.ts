// KV metadata rows and keyring epochs on real PostgreSQL: a row from a later epoch than the cached
// row MAC knows is checked again with a fresh one (another unsealer replica unsealed meanwhile),
// and refused only when the fresh one does not know that epoch either (the epoch row went back).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { createRowMac, createSeqMemory, IntegrityError, type RowMac } from './integrity.js';
import { getMetadata, putMetadata, type KvIntegrity } from './kv.js';

describe('KV metadata across keyring epochs', () => {
  let tdb: TestDatabase;
  const key = randomBytes(32);
  const refused: string[] = [];
  const atEpoch = (epoch: number) => createRowMac(key, (t) => refused.push(t), epoch);
  /** A source whose cached RowMac is at `cached` and whose fresh one is at `fresh`; counts fresh asks. */
  const source = (cached: RowMac, fresh: RowMac) => {
    const ig = { asked: 0, seen: createSeqMemory(), rowMac: async (f?: boolean) => (f ? (ig.asked++, fresh) : cached) };
    return ig satisfies KvIntegrity;
  };

  before(async () => {
    tdb = await createTestDatabase({ max: 2 });
  });
  after(async () => tdb?.drop());

  it('reads a row written in a later epoch after asking for a fresh row MAC', async () => {
    await putMetadata(tdb.database, source(atEpoch(3), atEpoch(3)), 'secret/', 'later', { maxVersions: 4 });
    const [row] = await tdb.database.query<{ epoch: number }>(sql`select epoch from vault.kv_metadata where path = 'later'`);
    assert.equal(row!.epoch, 3);
    const lagging = source(atEpoch(2), atEpoch(3));
    const md = await getMetadata(tdb.database.db, lagging, 'secret/', 'later');
    assert.equal(md?.maxVersions, 4);
    assert.equal(lagging.asked, 1, 'one fresh row MAC was asked for');
    // A write from the lagging process goes through the same way.
    await putMetadata(tdb.database, source(atEpoch(2), atEpoch(3)), 'secret/', 'later', { maxVersions: 5 });
    assert.equal((await getMetadata(tdb.database.db, source(atEpoch(3), atEpoch(3)), 'secret/', 'later'))?.maxVersions, 5);
  });

  it('refuses a row from an epoch the fresh row MAC does not know either', async () => {
    await putMetadata(tdb.database, source(atEpoch(9), atEpoch(9)), 'secret/', 'future', { maxVersions: 2 });
    const before = refused.length;
    const behind = source(atEpoch(3), atEpoch(3));
    await assert.rejects(getMetadata(tdb.database.db, behind, 'secret/', 'future'), IntegrityError);
    assert.equal(behind.asked, 1);
    assert.deepEqual(refused.slice(before), ['kv_metadata']);
  });

  it('refuses a row whose MAC was made under another key, even at a known epoch', async () => {
    await putMetadata(tdb.database, source(atEpoch(3), atEpoch(3)), 'secret/', 'mine', {});
    const other = createRowMac(randomBytes(32), undefined, 3);
    await assert.rejects(getMetadata(tdb.database.db, source(other, other), 'secret/', 'mine'), IntegrityError);
  });
});
