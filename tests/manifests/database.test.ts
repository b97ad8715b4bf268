// The database manifests (knative/database/) and the connection budget, read back from the
// committed YAML: what every function may open at max scale against what the Pooler accepts and
// what PostgreSQL allows; the generator refuses declarations that would not fit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { defaultOptions, generateManifests, listYaml, ManifestError, type Manifest } from '#manifests/index';
import { defineFunction } from '#shared/function/define';
import { projectRoot } from '#shared/db/root';
import { tokenFunction } from './sample-declarations.js';

const knativeDir = join(projectRoot(), 'knative');

function committed(): Manifest[] {
  return listYaml(knativeDir).flatMap((f) => parseAllDocuments(readFileSync(join(knativeDir, f), 'utf8')).map((d) => d.toJS() as Manifest));
}

const one = (docs: Manifest[], kind: string) => {
  const found = docs.filter((d) => d.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as any;
};

type Env = { name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } };
const envOf = (container: { env?: Env[] }) => new Map((container.env ?? []).map((e) => [e.name, e]));

/** Connections the committed manifests may open, computed from the YAML alone. */
function budgetOf(docs: Manifest[]) {
  const cluster = one(docs, 'Cluster');
  const pooler = one(docs, 'Pooler');
  const p = pooler.spec.pgbouncer.parameters;
  let clients = 0;
  let direct = 0;
  for (const svc of docs.filter((d) => d.kind === 'Service' && d.apiVersion === 'serving.knative.dev/v1') as any[]) {
    const env = envOf(svc.spec.template.spec.containers[0]);
    if (!env.has('DATABASE_URL')) continue;
    // max scale, plus one pod while a new revision starts before the old one drains
    const pods = Number(svc.spec.template.metadata.annotations['autoscaling.knative.dev/max-scale']) + 1;
    clients += pods * Number(env.get('ZENO_DB_POOL_MAX')?.value ?? 10);
    if (env.has('ZENO_DB_LISTEN_URL')) direct += pods;
  }
  for (const job of docs.filter((d) => d.kind === 'Job') as any[]) {
    if (envOf(job.spec.template.spec.containers[0]).has('DATABASE_URL')) direct += 1;
  }
  return {
    clients,
    direct,
    maxClientConn: Number(p.max_client_conn),
    poolerServer: pooler.spec.instances * Number(p.max_db_connections),
    maxConnections: Number(cluster.spec.postgresql.parameters.max_connections),
  };
}

describe('knative/database/ and the connection budget', () => {
  const docs = committed();

  it('points every function at the Pooler in transaction mode, unprepared, with LISTEN on the primary', () => {
    const pooler = one(docs, 'Pooler');
    assert.equal(pooler.spec.type, 'rw');
    assert.equal(pooler.spec.pgbouncer.poolMode, 'transaction');
    assert.equal(pooler.spec.cluster.name, one(docs, 'Cluster').metadata.name);
    const services = docs.filter((d) => d.kind === 'Service' && d.apiVersion === 'serving.knative.dev/v1') as any[];
    assert.ok(services.length > 0);
    for (const svc of services) {
      const env = envOf(svc.spec.template.spec.containers[0]);
      const name = svc.metadata.name;
      assert.equal(new URL(env.get('DATABASE_URL')!.value!).hostname, pooler.metadata.name, `${name}: DATABASE_URL names the Pooler's Service`);
      assert.equal(new URL(env.get('ZENO_DB_LISTEN_URL')!.value!).hostname, `${pooler.spec.cluster.name}-rw`, `${name}: LISTEN goes to the -rw Service`);
      assert.equal(env.get('ZENO_DB_PREPARE')?.value, 'false', name);
      for (const v of ['DATABASE_URL', 'ZENO_DB_LISTEN_URL']) assert.equal(new URL(env.get(v)!.value!).password, '', `${name}: no credentials in ${v}`);
      assert.deepEqual(env.get('PGPASSWORD')?.valueFrom?.secretKeyRef, { name: `${pooler.spec.cluster.name}-app`, key: 'password' }, name);
    }
  });

  it('holds: the pools at max scale fit one Pooler instance, and the server connections fit max_connections', () => {
    const b = budgetOf(docs);
    const reserved = defaultOptions('0').databaseCluster.reservedConnections;
    assert.ok(b.clients > 0);
    assert.ok(b.clients <= b.maxClientConn, `functions may open ${b.clients} client connections; one Pooler instance takes ${b.maxClientConn}`);
    assert.ok(
      b.poolerServer + b.direct <= b.maxConnections - reserved,
      `${b.poolerServer} pooled + ${b.direct} direct server connections; max_connections ${b.maxConnections} less ${reserved} reserved`,
    );
  });

  it('archives WALs to the ObjectStore the Cluster names, with a retention policy and a scheduled base backup', () => {
    const cluster = one(docs, 'Cluster');
    const store = one(docs, 'ObjectStore');
    const backup = one(docs, 'ScheduledBackup');
    const [plugin] = cluster.spec.plugins;
    assert.equal(plugin.isWALArchiver, true);
    assert.equal(plugin.parameters.barmanObjectName, store.metadata.name);
    assert.match(store.spec.retentionPolicy, /^[1-9][0-9]*[dwm]$/);
    assert.deepEqual([backup.spec.method, backup.spec.pluginConfiguration.name, backup.spec.cluster.name], ['plugin', plugin.name, cluster.metadata.name]);
    // Six fields: CloudNativePG's cron has seconds first.
    assert.equal(backup.spec.schedule.split(' ').length, 6);
  });

  it('sets on the owner role the timeouts that PgBouncer drops from the startup packet', () => {
    const cluster = one(docs, 'Cluster');
    const ignored = one(docs, 'Pooler').spec.pgbouncer.parameters.ignore_startup_parameters.split(',');
    const sqls: string[] = cluster.spec.bootstrap.initdb.postInitApplicationSQL;
    for (const p of ['statement_timeout', 'idle_in_transaction_session_timeout']) {
      assert.ok(ignored.includes(p), `${p} is ignored by PgBouncer`);
      assert.ok(sqls.some((s) => s.includes(`ALTER ROLE "${cluster.spec.bootstrap.initdb.owner}"`) && s.includes(`SET ${p} =`)), `${p} is set on the role`);
    }
  });

  it('refuses declarations whose pools outgrow the Pooler, naming the largest', () => {
    const hungry = defineFunction({ ...tokenFunction, name: 'auth-hungry', scaling: { ...tokenFunction.scaling, maxScale: 99 }, runtime: { databasePool: 20 } });
    assert.throws(
      () => generateManifests([hungry], defaultOptions('1.0.0')),
      (err: unknown) => err instanceof ManifestError && /2000 connections to the Pooler.*auth-hungry 20 × 100.*max_client_conn of 1000/.test(err.problems.join('\n')),
    );
  });

  it('refuses a cluster whose max_connections cannot hold the Pooler and the direct connections', () => {
    const opts = defaultOptions('1.0.0');
    assert.throws(
      () => generateManifests([tokenFunction], { ...opts, databaseCluster: { ...opts.databaseCluster, maxConnections: 80 } }),
      (err: unknown) => err instanceof ManifestError && /112 server connections .*Pooler 2 × \(40 \+ 5\) = 90, direct 22.*max_connections 80 less 10/.test(err.problems.join('\n')),
    );
  });

  it('refuses a databasePool that is not a positive integer', () => {
    assert.throws(() => generateManifests([{ ...tokenFunction, runtime: { databasePool: 0 } }], defaultOptions('1.0.0')), /databasePool must be an integer/);
  });
});
