// Database path benchmark: what turning prepared statements off costs, and what PgBouncer costs.
// The data layer (shared/db) runs the same work on four paths against a throwaway database:
//   direct-prepared     straight to PostgreSQL, named prepared statements (one machine's default)
//   direct-unprepared   straight to PostgreSQL, ZENO_DB_PREPARE=false
//   pooled-unprepared   through PgBouncer in transaction mode, ZENO_DB_PREPARE=false (a cluster's path)
//   session-prepared    through PgBouncer in session mode, prepared: the proxy hop without the switch
// Work: LANES concurrent lanes, each a keyed read at pool level then a read-only transaction of two
// keyed reads, OPS times (reads only: no commit waits on the disk, so the round trips show). Rounds interleave the paths; prints the median ops/s and its ratio to
// direct-prepared. Needs Debian's pgbouncer (apt-get install -y pgbouncer).
// Run alone: node --conditions=development --import tsx bench/db-pooler.ts
import { readFileSync } from 'node:fs';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { defaultOptions, generateManifests } from '#manifests/index';
import { openDatabase, type Database } from '#shared/db/index';
import { createEmptyDatabase } from '#tests/support/database';
import { startPgBouncer } from '#tests/support/pgbouncer';

const LANES = Number(process.env.BENCH_LANES ?? 8);
const OPS = Number(process.env.BENCH_OPS ?? 250);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const target = await createEmptyDatabase();
const server = new URL(target.url);
const dbName = server.pathname.slice(1);
const admin = postgres(target.url, { max: 1, onnotice: () => {} });
await admin.unsafe('create table items (id int primary key, n int not null, label text not null)');
await admin.unsafe(`insert into items select g, 0, 'item ' || g from generate_series(0, 999) g`);

const pooler = generateManifests([], defaultOptions('0.0.0')).objects.get('database/pooler.yaml')![0] as any;
// As many server connections as lanes: the figure is the per-statement cost, not a queue.
const parameters = { ...pooler.spec.pgbouncer.parameters, default_pool_size: String(LANES), max_db_connections: String(LANES) };
const bouncerServer = { host: server.hostname, port: Number(server.port || 5432) };
const user = decodeURIComponent(server.username || 'postgres');
const txBouncer = await startPgBouncer({ poolMode: 'transaction', parameters, users: [user], server: bouncerServer });
const sessionBouncer = await startPgBouncer({ poolMode: 'session', parameters, users: [user], server: bouncerServer });

const paths: Record<string, { url: string; prepare: boolean; proxy?: number }> = {
  'direct-prepared': { url: target.url, prepare: true },
  'direct-unprepared': { url: target.url, prepare: false },
  'pooled-unprepared': { url: txBouncer.url(dbName, user), prepare: false, proxy: txBouncer.pid },
  'session-prepared': { url: sessionBouncer.url(dbName, user), prepare: true, proxy: sessionBouncer.pid },
};

/** CPU time of a process in µs (utime + stime of /proc/<pid>/stat, in clock ticks of 10 ms). */
function cpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return 0; // gone
  }
}

/** CPU µs so far of this client, the proxy and the server backends of the database. */
async function cpuNow(proxy: number | undefined): Promise<Map<string, number>> {
  const backends = await admin<{ pid: number }[]>`select pid from pg_stat_activity where datname = ${dbName} and pid <> pg_backend_pid()`;
  const out = new Map<string, number>([['client', process.cpuUsage().user + process.cpuUsage().system]]);
  if (proxy) out.set('proxy', cpuMicros(proxy));
  for (const { pid } of backends) out.set(`backend ${pid}`, cpuMicros(pid));
  return out;
}

function cpuSpent(before: Map<string, number>, after: Map<string, number>): number {
  let total = 0;
  for (const [k, v] of after) total += v - (before.get(k) ?? v);
  return total;
}

async function run(db: Database): Promise<number> {
  const started = performance.now();
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      for (let i = 0; i < OPS; i++) {
        const id = (lane * 131 + i * 7) % 1000;
        await db.query(sql`select id, n, label from items where id = ${id}`);
        await db.transaction(async (tx) => {
          await tx.execute(sql`select n from items where id = ${id}`);
          await tx.execute(sql`select label from items where id = ${(id + 1) % 1000}`);
        }, { accessMode: 'read only' });
      }
    }),
  );
  return (LANES * OPS * 2) / ((performance.now() - started) / 1000);
}

const figures = new Map<string, number[]>(Object.keys(paths).map((k) => [k, []]));
const cpuPerOp = new Map<string, number[]>(Object.keys(paths).map((k) => [k, []]));
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, p] of Object.entries(paths)) {
      const db = await openDatabase({ url: p.url, settings: { poolMax: LANES, prepare: p.prepare } });
      try {
        await run(db); // warm: connections open, statements prepared where they are
        const before = await cpuNow(p.proxy);
        figures.get(name)!.push(await run(db));
        cpuPerOp.get(name)!.push(cpuSpent(before, await cpuNow(p.proxy)) / (LANES * OPS * 2));
      } finally {
        await db.close();
      }
    }
  }
} finally {
  await txBouncer.stop();
  await sessionBouncer.stop();
  await admin.end();
  await target.drop();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const base = median(figures.get('direct-prepared')!);
const baseCpu = median(cpuPerOp.get('direct-prepared')!);
console.log(`db-pooler: ${LANES} lanes × ${OPS} (read + read-only transaction of two reads), ${ROUNDS} rounds, medians`);
console.log('  path                CPU µs/op (client + PgBouncer + backends)      ops/s (wall)');
for (const [name, xs] of figures) {
  const cpu = median(cpuPerOp.get(name)!);
  console.log(
    `  ${name.padEnd(18)} ${cpu.toFixed(0).padStart(6)}   ×${(cpu / baseCpu).toFixed(2)}                          ${median(xs).toFixed(0).padStart(6)}   ×${(median(xs) / base).toFixed(2)}`,
  );
}
