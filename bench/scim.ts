// Effective (transitive) group membership at depth: a user's groups in a 10,000-group hierarchy
// of depth 10, as a tree (one parent each) and as a DAG (two parents each), against the direct
// membership lookup on the same database as the baseline. Prints median and p99 per lookup and
// the ratios. Run: node --conditions=development --import tsx bench/scim.ts
import { execSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { createTestDatabase } from '#tests/support/database';
import { makeTenant, makeUser } from '#functions/auth/testing/fixtures';
import { effectiveGroupsOf } from '#functions/auth/core/membership';

const LEVELS = 10;
const PER_LEVEL = 1000;
const LOOKUPS = 300;

const tdb = await createTestDatabase();
try {
  const db = tdb.database.db;
  const tree = await makeTenant(db, 'tree');
  const dag = await makeTenant(db, 'dag');
  for (const [t, parents] of [[tree, 1], [dag, 2]] as const) {
    await tdb.database.query(sql`insert into auth.groups (tenant_id, display_name) select ${t.id}, 'g-' || l || '-' || j from generate_series(0, ${LEVELS - 1}) l, generate_series(0, ${PER_LEVEL - 1}) j`);
    await tdb.database.query(sql`
      insert into auth.group_nesting (parent_id, child_id)
      select p.id, c.id from auth.groups c
      join lateral (select split_part(c.display_name, '-', 2)::int as l, split_part(c.display_name, '-', 3)::int as j) k on true
      join auth.groups p on p.tenant_id = c.tenant_id and k.l > 0
        and (p.display_name = 'g-' || (k.l - 1) || '-' || k.j or (${parents} = 2 and p.display_name = 'g-' || (k.l - 1) || '-' || ((k.j * 7 + 3) % ${PER_LEVEL})))
      where c.tenant_id = ${t.id}`);
  }
  const users = [];
  for (const [t, name] of [[tree, 'tree'], [dag, 'dag']] as const) {
    const u = await makeUser(db, t, { username: `leaf-${name}` });
    await tdb.database.query(sql`insert into auth.group_members (group_id, user_id) select id, ${u.id} from auth.groups where tenant_id = ${t.id} and display_name = ${`g-${LEVELS - 1}-17`}`);
    users.push({ t, u, name });
  }
  // Statistics as autovacuum would gather them after a bulk load.
  await tdb.database.query(sql`analyze auth.groups, auth.group_nesting, auth.group_members`);
  const measure = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await fn();
    const times: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const s = process.hrtime.bigint();
      await fn();
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)]!, p99: times[Math.floor(times.length * 0.99)]! };
  };
  const load = execSync('uptime').toString().trim().replace(/.*load average/, 'load average');
  console.log(`bench/scim: effective membership, ${LEVELS * PER_LEVEL} groups per tenant, depth ${LEVELS}, ${LOOKUPS} lookups each (${load})`);
  const { u: baseUser, t: baseTenant } = users[0]!;
  const base = await measure(() => tdb.database.query(sql`select g.id, g.display_name from auth.group_members gm join auth.groups g on g.id = gm.group_id where gm.user_id = ${baseUser.id} and g.tenant_id = ${baseTenant.id}`));
  console.log(`  baseline direct lookup   median ${base.median.toFixed(3)} ms  p99 ${base.p99.toFixed(3)} ms`);
  for (const { t, u, name } of users) {
    const n = (await effectiveGroupsOf(db, t.id, u.id)).length;
    const r = await measure(() => effectiveGroupsOf(db, t.id, u.id));
    console.log(`  ${name.padEnd(4)} effective (${String(n).padStart(4)} groups)  median ${r.median.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ratio to baseline: median ${(r.median / base.median).toFixed(2)}x  p99 ${(r.p99 / base.p99).toFixed(2)}x`);
  }
} finally {
  await tdb.drop();
}
