// Audit or fail: the token endpoint's group-committed audit rows are retried on a transient
// database error, and a token is refused (503) when its row cannot be written at all.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'drizzle-orm';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { silentLogger } from '#shared/log/index';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { basicAuth, form, makeClient, makeTenant } from '../testing/fixtures.js';
import { AuditUnavailable, createAuditBuffer } from '../core/audit.js';
import type { Tenant } from '../core/schema.js';
import token from './function.js';

describe('token.issued audit rows: retried, and the grant refused when they cannot be written', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let tenant: Tenant;
  let secret: string;
  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { functions: [token] });
    tenant = await makeTenant(tdb.database.db, 'aud');
    ({ secret } = (await makeClient(tdb.database.db, tenant, { client_id: 'svc', grant_types: ['client_credentials'], scope: 'read' })) as { secret: string });
    await tdb.database.db.execute(sql`create sequence public.audit_faults`);
    await tdb.database.db.execute(sql`create table public.audit_fault_mode (always boolean not null)`);
    await tdb.database.db.execute(sql`insert into public.audit_fault_mode values (false)`);
    // Fails the first two inserts of a token.issued row (a sequence is not rolled back), or every one.
    await tdb.database.db.execute(sql.raw(`create function public.fail_audit() returns trigger language plpgsql as $$
      begin
        if (select always from public.audit_fault_mode) or nextval('public.audit_faults') <= 2 then
          raise exception 'injected audit failure';
        end if;
        return new;
      end $$`));
    await tdb.database.db.execute(sql.raw(`create trigger fail_audit before insert on auth.audit for each row
      when (new.action = 'token.issued') execute function public.fail_audit()`));
  });
  after(async () => {
    await h.close();
    await tdb.drop();
  });

  const grant = () => h.fetch('/auth/aud/token', { ...form({ grant_type: 'client_credentials' }), headers: { ...form({}).headers, authorization: basicAuth('svc', secret) } });
  const issuedRows = async () => (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'token.issued'`))[0]!.n;

  it('retries a transient failure and answers the token once its row is written', async () => {
    const res = await grant();
    assert.equal(res.status, 200);
    assert.equal(await issuedRows(), 1);
  });

  it('refuses the token with 503 temporarily_unavailable when the row cannot be written', async () => {
    await tdb.database.db.execute(sql`update public.audit_fault_mode set always = true`);
    const res = await grant();
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    const body = (await res.json()) as { error: string; access_token?: string };
    assert.equal(body.error, 'temporarily_unavailable');
    assert.equal(body.access_token, undefined);
    assert.equal(await issuedRows(), 1);
    await tdb.database.db.execute(sql`update public.audit_fault_mode set always = false`);
    assert.equal((await grant()).status, 200);
    assert.equal(await issuedRows(), 2);
  });

  it('writes concurrent rows in few inserts and tells each waiter its own outcome', async () => {
    const buffer = createAuditBuffer(tdb.database.db, silentLogger, { retryDelaysMs: [] });
    const meta = { ip: '192.0.2.1', userAgent: undefined, requestId: undefined };
    const before = (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'batch.test'`))[0]!.n;
    await Promise.all(Array.from({ length: 50 }, (_, i) => buffer.add({ tenantId: tenant.id, action: 'batch.test', outcome: 'success', actor: `a${i}` }, meta)));
    const after = (await tdb.database.query<{ n: number }>(sql`select count(*)::int as n from auth.audit where action = 'batch.test'`))[0]!.n;
    assert.equal(after - before, 50);
    await tdb.database.db.execute(sql`update public.audit_fault_mode set always = true`);
    await assert.rejects(buffer.add({ tenantId: tenant.id, action: 'token.issued', outcome: 'success' }, meta), AuditUnavailable);
    await tdb.database.db.execute(sql`update public.audit_fault_mode set always = false`);
    await buffer.flush();
  });
});
