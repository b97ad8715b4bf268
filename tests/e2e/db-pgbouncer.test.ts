// The data layer through a real PgBouncer in transaction mode, configured as the generated Pooler
// configures it (knative/database/pooler.yaml), with the database variables the generated function
// manifests set: unprepared statements under many clients on a small server pool, the owner role's
// timeouts in place of the startup parameters PgBouncer ignores, and LISTEN on the direct URL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { defaultOptions, generateManifests, type Manifest } from '#manifests/index';
import { loadConfig } from '#shared/config/index';
import { openDatabase, type Database } from '#shared/db/index';
import { sendInTransaction } from '#shared/db/pipelined';
import { createEmptyDatabase } from '#tests/support/database';
import { startPgBouncer, type RunningPgBouncer } from '#tests/support/pgbouncer';
import { waitFor } from '#tests/support/poll';
import { tokenFunction } from '../manifests/sample-declarations.js';

const SERVER = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
/** Server connections PgBouncer may open: far fewer than the clients below. */
const SERVER_POOL = 2;
const PROCESSES = 8;
const POOL_PER_PROCESS = 5;
const ROUNDS = 20;

describe('the data layer through PgBouncer in transaction mode', () => {
  const role = `zk_pool_${randomBytes(4).toString('hex')}`;
  let db: { url: string; drop(): Promise<void> };
  let dbName: string;
  let admin: postgres.Sql;
  let bouncer: RunningPgBouncer;
  let env: Record<string, string>;

  before(async () => {
    db = await createEmptyDatabase();
    dbName = new URL(db.url).pathname.slice(1);
    admin = postgres(db.url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create role "${role}" login`);
    await admin.unsafe(`create table counters (id int primary key, n int not null)`);
    await admin.unsafe(`create table visits (id bigserial primary key, counter int not null)`);
    await admin.unsafe(`insert into counters select g, 0 from generate_series(0, 9) g`);
    await admin.unsafe(`alter table counters owner to "${role}"; alter table visits owner to "${role}"`);
    // The manifests of a cluster whose owner is this role and whose database is this one.
    const opts = defaultOptions('1.0.0');
    const { objects } = generateManifests([tokenFunction], { ...opts, databaseCluster: { ...opts.databaseCluster, owner: role, database: dbName } });
    const cluster = objects.get('database/cluster.yaml')![0] as any;
    for (const statement of cluster.spec.bootstrap.initdb.postInitApplicationSQL as string[]) await admin.unsafe(statement);
    const pooler = objects.get('database/pooler.yaml')![0] as any;
    bouncer = await startPgBouncer({
      poolMode: pooler.spec.pgbouncer.poolMode,
      parameters: { ...pooler.spec.pgbouncer.parameters, default_pool_size: String(SERVER_POOL), reserve_pool_size: '0', max_db_connections: String(SERVER_POOL) },
      users: [role],
      server: { host: SERVER.hostname, port: Number(SERVER.port || 5432) },
    });
    // The function's own variables, as its Knative Service sets them (URLs pointed at this machine).
    const service = (objects.get('functions/auth-token.yaml') as Manifest[]).find((d) => d.kind === 'Service') as any;
    env = Object.fromEntries(
      (service.spec.template.spec.containers[0].env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]),
    );
  });

  after(async () => {
    await bouncer?.stop();
    await admin?.end();
    await db?.drop();
    const a = postgres(SERVER.toString(), { max: 1, onnotice: () => {} });
    await a.unsafe(`drop role if exists "${role}"`);
    await a.end();
  });

  const direct = () => {
    const u = new URL(SERVER);
    u.pathname = `/${dbName}`;
    u.username = role;
    return u.toString();
  };

  /** Opens the data layer as a function pod would, with the generated variables. */
  function openPooled(extra: Record<string, string> = {}): Promise<Database> {
    const config = loadConfig({ ...env, DATABASE_URL: bouncer.url(dbName, role), ZENO_DB_LISTEN_URL: direct(), ZENO_DB_POOL_MAX: String(POOL_PER_PROCESS), ...extra });
    return openDatabase({ url: config.databaseUrl, listenUrl: config.databaseListenUrl, settings: config.database });
  }

  it('is configured by the manifests: transaction mode, statements unprepared', () => {
    assert.equal(env.ZENO_DB_PREPARE, 'false');
    assert.match(env.DATABASE_URL!, /^postgresql:\/\/zenokube-db-pooler-rw:5432\//);
  });

  it('serves 40 clients over 2 server connections, every transaction applied once', async () => {
    const dbs = await Promise.all(Array.from({ length: PROCESSES }, () => openPooled()));
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const [row] = await admin<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where usename = ${role} and backend_type = 'client backend'`;
        peak = Math.max(peak, row!.n);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      const work = dbs.flatMap((d, p) =>
        Array.from({ length: POOL_PER_PROCESS }, (_, lane) =>
          (async () => {
            for (let i = 0; i < ROUNDS; i++) {
              const id = (p * 7 + lane * 3 + i) % 10;
              // A read at pool level, a transaction with a statement sent unawaited, and one awaited.
              const [row] = await d.query<{ n: number }>(sql`select n from counters where id = ${id}`);
              assert.equal(typeof row!.n, 'number');
              await d.transaction(async (tx) => {
                if (!sendInTransaction(tx, sql`insert into visits (counter) values (${String(id)}::int)`)) throw new Error('not a postgres.js transaction');
                await tx.execute(sql`update counters set n = n + 1 where id = ${id}`);
              });
            }
          })(),
        ),
      );
      await Promise.all(work);
    } finally {
      sampling = false;
      await sampler;
      await Promise.all(dbs.map((d) => d.close()));
    }
    const total = PROCESSES * POOL_PER_PROCESS * ROUNDS;
    const [sums] = await admin<{ n: number; v: number }[]>`select (select sum(n)::int from counters) as n, (select count(*)::int from visits) as v`;
    assert.deepEqual(sums, { n: total, v: total });
    assert.ok(peak >= 1 && peak <= SERVER_POOL, `PostgreSQL saw ${peak} connections of the role; PgBouncer may open ${SERVER_POOL}`);
  });

  it('keeps the owner role\'s timeouts, which stand in for the startup parameters PgBouncer ignores', async () => {
    const d = await openPooled();
    try {
      const [row] = await d.query<{ s: string; i: string }>(sql`select current_setting('statement_timeout') as s, current_setting('idle_in_transaction_session_timeout') as i`);
      assert.deepEqual(row, { s: '30s', i: '15s' });
      // And the server enforces them: a statement over a lowered limit is cancelled (57014).
      await assert.rejects(
        d.transaction(async (tx) => {
          await tx.execute(sql`set local statement_timeout = '50ms'`);
          await tx.execute(sql`select pg_sleep(5)`);
        }),
        (err: any) => (err.cause?.code ?? err.code) === '57014' || /statement timeout/.test(String(err.cause ?? err)),
      );
    } finally {
      await d.close();
    }
  });

  it('hears NOTIFY on the direct listen URL while statements go through the pooler', async () => {
    const d = await openPooled();
    try {
      const heard: string[] = [];
      const unlisten = await d.listen('zk_pool_test', (payload) => heard.push(payload));
      await d.transaction(async (tx) => {
        await tx.execute(sql`select pg_notify('zk_pool_test', 'committed')`);
      });
      await waitFor('the notification', () => (heard.length > 0 ? heard : undefined));
      assert.deepEqual(heard, ['committed']);
      await unlisten();
    } finally {
      await d.close();
    }
  });
});
