import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import type { Database } from '#shared/db/index';
import { makeClient, makeTenant } from '../testing/fixtures.js';
import { createClientCache, type ClientCache } from './client-cache.js';
import type { Tenant } from './schema.js';

/** Polls `check` until it holds; fails after `tries` rounds of 20 ms. */
async function eventually(what: string, check: () => Promise<boolean>, tries = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await sleep(20);
  }
  assert.fail(`never happened: ${what}`);
}

describe('the token function’s client cache', () => {
  let tdb: TestDatabase;
  let acme: Tenant;
  let other: Tenant;
  const caches: ClientCache[] = [];
  before(async () => {
    tdb = await createTestDatabase();
    acme = await makeTenant(tdb.database.db, 'acme');
    other = await makeTenant(tdb.database.db, 'other');
  });
  after(async () => {
    for (const c of caches) await c.close();
    await tdb.drop();
  });

  const open = async (database: Database = tdb.database, ttlMs = 600_000) => {
    const cache = await createClientCache(database, { ttlMs });
    caches.push(cache);
    return cache;
  };
  /** Changes a row with triggers off (replica role), so no notification is sent. */
  const silently = (statement: ReturnType<typeof sql>) =>
    tdb.database.transaction(async (tx) => {
      await tx.execute(sql`set local session_replication_role = replica`);
      await tx.execute(statement);
    });
  const hashOf = async (cache: ClientCache, tenant: Tenant, id: string) => (await cache.find(tdb.database.db, tenant.id, id))?.secretHash;

  it('serves a found client from memory until its row changes', async () => {
    const cache = await open();
    await makeClient(tdb.database.db, acme, { client_id: 'kept', grant_types: ['client_credentials'], scope: 'read' });
    const first = await hashOf(cache, acme, 'kept');
    assert.ok(first);
    await silently(sql`update auth.clients set secret_hash = 'changed-without-notice' where client_id = 'kept'`);
    assert.equal(await hashOf(cache, acme, 'kept'), first, 'the second lookup is a cache hit');
  });

  it('drops an entry when the transaction that rotates its secret commits', async () => {
    const cache = await open();
    await makeClient(tdb.database.db, acme, { client_id: 'rotated', grant_types: ['client_credentials'] });
    assert.ok(await hashOf(cache, acme, 'rotated'));
    await tdb.database.db.execute(sql`update auth.clients set secret_hash = 'new-hash' where client_id = 'rotated'`);
    await eventually('the new secret hash', async () => (await hashOf(cache, acme, 'rotated')) === 'new-hash');
  });

  it('forgets a deleted client, and every client of a deleted tenant', async () => {
    const cache = await open();
    const doomed = await makeTenant(tdb.database.db, 'doomed');
    await makeClient(tdb.database.db, acme, { client_id: 'gone', grant_types: ['client_credentials'] });
    await makeClient(tdb.database.db, doomed, { client_id: 'svc', grant_types: ['client_credentials'] });
    assert.ok(await hashOf(cache, acme, 'gone'));
    assert.ok(await hashOf(cache, doomed, 'svc'));
    await tdb.database.db.execute(sql`delete from auth.clients where client_id = 'gone'`);
    await tdb.database.db.execute(sql`delete from auth.tenants where slug = 'doomed'`);
    await eventually('both entries gone', async () =>
      (await cache.find(tdb.database.db, acme.id, 'gone')) === undefined && (await cache.find(tdb.database.db, doomed.id, 'svc')) === undefined,
    );
  });

  it('keeps tenants apart: the same client_id in two tenants is two entries', async () => {
    const cache = await open();
    await makeClient(tdb.database.db, acme, { client_id: 'twin', grant_types: ['client_credentials'] });
    await makeClient(tdb.database.db, other, { client_id: 'twin', grant_types: ['client_credentials'] });
    const a = await cache.find(tdb.database.db, acme.id, 'twin');
    const o = await cache.find(tdb.database.db, other.id, 'twin');
    assert.equal(a?.tenantId, acme.id);
    assert.equal(o?.tenantId, other.id);
    assert.notEqual(a?.secretHash, o?.secretHash);
    assert.equal((await cache.find(tdb.database.db, acme.id, 'twin'))?.tenantId, acme.id);
  });

  it('never remembers an unknown client, so one created later is found at once', async () => {
    const cache = await open();
    assert.equal(await cache.find(tdb.database.db, acme.id, 'late'), undefined);
    await makeClient(tdb.database.db, acme, { client_id: 'late', grant_types: ['client_credentials'] });
    assert.ok(await cache.find(tdb.database.db, acme.id, 'late'));
  });

  it('hands out frozen rows, so a request cannot alter what the next one reads', async () => {
    const cache = await open();
    await makeClient(tdb.database.db, acme, { client_id: 'frozen', grant_types: ['client_credentials'], scope: 'read' });
    await cache.find(tdb.database.db, acme.id, 'frozen');
    const hit = (await cache.find(tdb.database.db, acme.id, 'frozen'))!;
    assert.throws(() => ((hit as { secretHash: string | null }).secretHash = 'x'), TypeError);
    assert.throws(() => hit.scopes.push('admin'), TypeError);
  });

  it('bounds a lost notification by the entry lifetime', async () => {
    const cache = await open(tdb.database, 50);
    await makeClient(tdb.database.db, acme, { client_id: 'expiring', grant_types: ['client_credentials'] });
    assert.ok(await hashOf(cache, acme, 'expiring'));
    await silently(sql`update auth.clients set secret_hash = 'unnoticed' where client_id = 'expiring'`);
    await eventually('the entry to expire', async () => (await hashOf(cache, acme, 'expiring')) === 'unnoticed');
  });

  it('asks the database every time when LISTEN cannot start', async () => {
    const noListen: Database = { ...tdb.database, listen: async () => { throw new Error('LISTEN refused'); } };
    const cache = await open(noListen);
    assert.equal(cache.enabled, false);
    await makeClient(tdb.database.db, acme, { client_id: 'uncached', grant_types: ['client_credentials'] });
    assert.ok(await hashOf(cache, acme, 'uncached'));
    await silently(sql`update auth.clients set secret_hash = 'seen-at-once' where client_id = 'uncached'`);
    assert.equal(await hashOf(cache, acme, 'uncached'), 'seen-at-once');
  });

  it('stops caching once closed', async () => {
    const cache = await open();
    await makeClient(tdb.database.db, acme, { client_id: 'closed', grant_types: ['client_credentials'] });
    assert.ok(await hashOf(cache, acme, 'closed'));
    await cache.close();
    assert.equal(cache.enabled, false);
    await silently(sql`update auth.clients set secret_hash = 'after-close' where client_id = 'closed'`);
    assert.equal(await hashOf(cache, acme, 'closed'), 'after-close');
  });
});
