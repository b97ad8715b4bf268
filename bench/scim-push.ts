// SCIM push throughput: changes/s delivered by the push queue (claim, current state, scope, id
// mapping, the SCIM call, the link) to a local target (another tenant's SCIM server over a real
// socket), against the baseline of the same SCIM calls sent straight to the same server by a
// plain client in the same run: creates (POST), updates (PUT), and a group of every user (one PUT
// naming them all). Then one drift reconcile round of the in-sync target against the baseline of
// listing the target's users and groups with the same paged GETs. Prints rates and ratios.
// Run: node --conditions=development --import tsx bench/scim-push.ts   (SCIM_BENCH_CHANGES, default 1000)
import { execSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { createTestDatabase } from '#tests/support/database';
import { makeTenant } from '#functions/auth/testing/fixtures';
import { startAuthHarness } from '#functions/auth/testing/harness';
import { mintScimToken } from '#functions/auth/core/scim-tokens';
import { createAuthRuntime } from '#functions/auth/core/runtime';
import { createTarget, enqueuePush } from '#functions/auth/core/scim-targets';
import scim from '#functions/auth/scim/function';
import scimPush from '#functions/auth/scim-push/function';
import { drainPushQueue } from '#functions/auth/scim-push/drain';
import { reconcileTarget } from '#functions/auth/scim-push/reconcile';

const N = Number(process.env.SCIM_BENCH_CHANGES ?? 1000);
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

const tdb = await createTestDatabase();
const h = await startAuthHarness(tdb.database, { listen: true, functions: [scim, scimPush] });
try {
  const rt = await createAuthRuntime(h.hosted.find((f) => f.declaration.name === 'auth-scim-push')!.context);
  const src = await makeTenant(tdb.database.db, 'src');
  const dst = await makeTenant(tdb.database.db, 'dst');
  const base = await makeTenant(tdb.database.db, 'base');
  const dstToken = (await mintScimToken(tdb.database.db, dst.id, 'push')).token;
  const baseToken = (await mintScimToken(tdb.database.db, base.id, 'direct')).token;
  const target = (await createTarget(rt.db, rt.pushSealer, src.id, { name: 'dst', url: `${h.baseUrl}/auth/dst/scim/v2`, token: dstToken, groupIds: null, flatten: false }))!;
  await tdb.database.query(sql`
    insert into auth.users (tenant_id, username, email, emails, given_name, family_name)
    select ${src.id}, 'user-' || i, 'user-' || i || '@src.test', jsonb_build_array(jsonb_build_object('value', 'user-' || i || '@src.test', 'primary', true)), 'Given' || i, 'Family'
    from generate_series(1, ${N}) i`);
  const ids = (await tdb.database.query<{ id: string; username: string }>(sql`select id, username from auth.users where tenant_id = ${src.id} order by username`)).map((r) => r.id);

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${h.baseUrl}/auth/base/scim/v2${path}`, {
      method,
      headers: { authorization: `Bearer ${baseToken}`, accept: 'application/scim+json', ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    return text ? (JSON.parse(text) as Record<string, unknown>) : undefined;
  };
  const userBody = (i: number, given: string) => ({
    schemas: [USER],
    userName: `user-${i}`,
    externalId: ids[i - 1],
    active: true,
    name: { givenName: given, familyName: 'Family' },
    emails: [{ value: `user-${i}@src.test`, primary: true }],
  });
  const timed = async (fn: () => Promise<unknown>) => {
    const s = process.hrtime.bigint();
    await fn();
    return Number(process.hrtime.bigint() - s) / 1e9;
  };
  const drainAll = async () => {
    for (;;) {
      const r = await drainPushQueue(rt, { maxAttempts: 8, backoffSeconds: 10, leaseSeconds: 120, limit: 100_000 });
      if (r.failed) throw new Error(`${r.failed} pushes failed`);
      if (!r.delivered) return;
    }
  };
  const usersOf = (i: number[]) => i.map((n) => ({ type: 'User' as const, id: ids[n]! }));
  const all = Array.from({ length: N }, (_, i) => i);

  const load = execSync('uptime').toString().trim().replace(/.*load average/, 'load average');
  console.log(`bench/scim-push: ${N} changes each, push queue vs direct SCIM calls to the same server (${load})`);
  const line = (name: string, direct: number, pushed: number, changes: number) =>
    console.log(
      changes > 1
        ? `  ${name.padEnd(30)} direct ${(changes / direct).toFixed(1).padStart(7)}/s   pushed ${(changes / pushed).toFixed(1).padStart(7)}/s   pushed/direct rate ${(direct / pushed).toFixed(2)}x`
        : `  ${name.padEnd(30)} direct ${(direct * 1000).toFixed(0).padStart(5)} ms   pushed ${(pushed * 1000).toFixed(0).padStart(5)} ms   pushed/direct time ${(pushed / direct).toFixed(2)}x`,
    );

  const baseIds: string[] = [];
  const dCreate = await timed(async () => {
    for (let i = 1; i <= N; i++) baseIds.push((await call('POST', '/Users', userBody(i, `Given${i}`)))!.id as string);
  });
  const pCreate = await timed(async () => {
    await enqueuePush(rt.db, src.id, usersOf(all), target.id);
    await drainAll();
  });
  line('create user (POST)', dCreate, pCreate, N);

  const dUpdate = await timed(async () => {
    for (let i = 1; i <= N; i++) await call('PUT', `/Users/${baseIds[i - 1]}`, userBody(i, `New${i}`));
  });
  await tdb.database.query(sql`update auth.users set given_name = 'New' || substr(username, 6) where tenant_id = ${src.id}`);
  const pUpdate = await timed(async () => {
    await enqueuePush(rt.db, src.id, usersOf(all), target.id);
    await drainAll();
  });
  line('update user (PUT)', dUpdate, pUpdate, N);

  const [g] = await tdb.database.query<{ id: string }>(sql`insert into auth.groups (tenant_id, display_name) values (${src.id}, 'everyone') returning id`);
  await tdb.database.query(sql`insert into auth.group_members (group_id, user_id) select ${g!.id}::uuid, id from auth.users where tenant_id = ${src.id}`);
  const dGroup = await timed(() => call('POST', '/Groups', { schemas: [GROUP], displayName: 'everyone', externalId: g!.id, members: baseIds.map((value) => ({ value, type: 'User' })) }));
  const pGroup = await timed(async () => {
    await enqueuePush(rt.db, src.id, [{ type: 'Group', id: g!.id }], target.id);
    await drainAll();
  });
  line(`group of ${N} members (POST)`, dGroup, pGroup, 1);

  const list = async (path: string) => {
    for (let start = 1; ; ) {
      const page = (await call('GET', `${path}${path.includes('?') ? '&' : '?'}startIndex=${start}&count=200`))!;
      const n = (page.Resources as unknown[]).length;
      start += n;
      if (!n || start > (page.totalResults as number)) return;
    }
  };
  const dList = await timed(async () => {
    await list('/Users?excludedAttributes=groups');
    await list('/Groups');
  });
  let outcome: Awaited<ReturnType<typeof reconcileTarget>>;
  const pRound = await timed(async () => (outcome = await reconcileTarget(rt, src.id, target.id)));
  if (!outcome!.ok || outcome!.missing + outcome!.changed + outcome!.extra) throw new Error(`the target drifted: ${JSON.stringify(outcome!)}`);
  console.log(
    `  reconcile round, ${N} users + 1 group   listing alone ${(dList * 1000).toFixed(0)} ms   round ${(pRound * 1000).toFixed(0)} ms   ratio ${(pRound / dList).toFixed(2)}x the listing`,
  );
} finally {
  await h.close();
  await tdb.drop();
}
