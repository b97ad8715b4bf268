// SCIM list with a filter on a large tenant: GET /Users?filter=… over a real socket against
// 100,000 users (SCIM_BENCH_USERS to change it), for an indexed `userName eq`, a `co` on emails
// and a compound `and`, against the baseline of the same `userName` lookup sent as plain SQL on
// the same database. Prints median and p99 per request and the ratios.
// Run: node --conditions=development --import tsx bench/scim-list.ts
import { execSync } from 'node:child_process';
import { sql } from 'drizzle-orm';
import { createTestDatabase } from '#tests/support/database';
import { makeTenant } from '#functions/auth/testing/fixtures';
import { startAuthHarness } from '#functions/auth/testing/harness';
import { mintScimToken } from '#functions/auth/core/scim-tokens';
import scim from '#functions/auth/scim/function';

const USERS = Number(process.env.SCIM_BENCH_USERS ?? 100_000);
const REQUESTS = Number(process.env.SCIM_BENCH_REQUESTS ?? 200);

const tdb = await createTestDatabase();
const h = await startAuthHarness(tdb.database, { listen: true, functions: [scim] });
try {
  const tenant = await makeTenant(tdb.database.db, 'big');
  const { token } = await mintScimToken(tdb.database.db, tenant.id, 'bench');
  await tdb.database.query(sql`
    insert into auth.users (tenant_id, username, email, emails, given_name, family_name, name)
    select ${tenant.id}, 'user-' || i, 'user-' || i || '@big.test', jsonb_build_array(jsonb_build_object('value', 'user-' || i || '@big.test', 'primary', true)),
           'Given' || (i % 500), 'Family' || (i % 1000), 'User ' || i
    from generate_series(1, ${USERS}) i`);
  await tdb.database.query(sql`analyze auth.users`);

  const measure = async (fn: () => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await fn();
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const s = process.hrtime.bigint();
      await fn();
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
    }
    times.sort((a, b) => a - b);
    return { median: times[Math.floor(times.length / 2)]!, p99: times[Math.floor(times.length * 0.99)]! };
  };
  let n = 0;
  const pick = () => 1 + ((n++ * 7919) % USERS);
  const list = (filter: () => string) => async () => {
    const res = await fetch(`${h.baseUrl}/auth/big/scim/v2/Users?count=10&filter=${encodeURIComponent(filter())}`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { totalResults?: number };
    if (res.status !== 200 || !body.totalResults) throw new Error(`list failed: ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
  };

  const load = execSync('uptime').toString().trim().replace(/.*load average/, 'load average');
  console.log(`bench/scim-list: GET /Users?filter=… on ${USERS} users, ${REQUESTS} requests each (${load})`);
  const base = await measure(() => tdb.database.query(sql`select * from auth.users where tenant_id = ${tenant.id} and username = ${`user-${pick()}`}`));
  console.log(`  baseline SQL userName lookup          median ${base.median.toFixed(3)} ms  p99 ${base.p99.toFixed(3)} ms`);
  const cases: [string, () => string][] = [
    ['userName eq (indexed)', () => `userName eq "user-${pick()}"`],
    ['emails.value co (one match)', () => `emails.value co "er-${pick()}@"`],
    ['name.familyName eq and active', () => `name.familyName eq "Family${pick() % 1000}" and active eq true`],
  ];
  for (const [name, filter] of cases) {
    const r = await measure(list(filter));
    console.log(`  ${name.padEnd(36)}  median ${r.median.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  ratio to baseline: median ${(r.median / base.median).toFixed(1)}x  p99 ${(r.p99 / base.p99).toFixed(1)}x`);
  }
} finally {
  await h.close();
  await tdb.drop();
}
