// A stand-in for CloudNativePG's declarative role and database controllers, for ZenoScope's tests:
// it reads the `DatabaseRole`s, `Database`s and password Secrets of one namespace from an API
// server (the in-process fake, tests/e2e/ingress-fake-apiserver.ts) and makes them real on a real
// PostgreSQL server, as CloudNativePG does on its cluster's primary: CREATE/ALTER ROLE with the
// password of the role's Secret and its `inRoles`, CREATE DATABASE with its owner, CREATE EXTENSION
// in it; it reports `status.applied` (and `message` on failure) and holds its own finalizer until it
// has dropped what it made (the reclaim policy `delete`). Not CloudNativePG: one pass per call, no
// watch, no reconcile of role attributes beyond login, password and membership.
// @see https://cloudnative-pg.io/documentation/current/declarative_role_management/
// @see https://cloudnative-pg.io/documentation/current/declarative_database_management/
import postgres from 'postgres';
import type { FakeApiServer } from './ingress-fake-apiserver.js';

const ROLES = '/apis/postgresql.cnpg.io/v1/databaseroles';
const DBS = '/apis/postgresql.cnpg.io/v1/databases';
const SECRETS = '/api/v1/secrets';
const ROLE_FINALIZER = 'cnpg.io/deleteDatabaseRole';
const DB_FINALIZER = 'cnpg.io/deleteDatabase';

/** A PostgreSQL identifier as ZenoScope derives them; anything else is refused, never quoted through. */
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const ident = (s: string): string => {
  if (!IDENT.test(s)) throw new Error(`not an identifier: ${JSON.stringify(s)}`);
  return `"${s}"`;
};

export interface CnpgStandIn {
  /** One pass over the namespace's objects; resolves once every change it made is reported. */
  pass(): Promise<void>;
  /** While failing, every statement fails as on a primary that is down. */
  failing(on: boolean): void;
  /** SQL the stand-in ran, in order (identifiers only, never passwords). */
  readonly log: string[];
  close(): Promise<void>;
}

/** `serverUrl`: a superuser connection to the server playing the cluster; `namespace`: the cluster's. */
export function startCnpgStandIn(api: FakeApiServer, serverUrl: string, namespace = 'cnpg-system'): CnpgStandIn {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  const log: string[] = [];
  let down = false;
  const run = async (sql: string, db?: string, logAs = sql) => {
    if (down) throw new Error('connection refused: the primary is down');
    log.push(db ? `${db}: ${logAs}` : logAs);
    if (!db) return admin.unsafe(sql);
    const u = new URL(serverUrl);
    u.pathname = `/${db}`;
    const one = postgres(u.toString(), { max: 1, onnotice: () => {} });
    try {
      return await one.unsafe(sql);
    } finally {
      await one.end();
    }
  };
  const list = async (collection: string) => {
    const res = await fetch(`${api.url}${collection.replace(/\/(\w+)$/, `/namespaces/${namespace}/$1`)}`);
    return ((await res.json()) as { items: any[] }).items;
  };
  const finalize = (collection: string, o: any, finalizer: string, on: boolean) => {
    const fresh = api.get(collection, namespace, o.metadata.name);
    if (!fresh) return;
    const have: string[] = fresh.metadata.finalizers ?? [];
    if (on === have.includes(finalizer)) return;
    api.put({ ...fresh, metadata: { ...fresh.metadata, finalizers: on ? [...have, finalizer] : have.filter((f) => f !== finalizer) } });
  };
  const report = (collection: string, o: any, status: Record<string, unknown>) => {
    const fresh = api.get(collection, namespace, o.metadata.name);
    if (fresh && JSON.stringify(fresh.status) !== JSON.stringify(status)) api.setStatus(collection, namespace, o.metadata.name, status);
  };

  async function role(o: any, secrets: any[]): Promise<void> {
    const spec = o.spec as { name: string; login?: boolean; inRoles?: string[]; passwordSecret?: { name: string }; databaseRoleReclaimPolicy?: string };
    const name = ident(spec.name);
    if (down) throw new Error('connection refused: the primary is down');
    const exists = (await admin`select 1 from pg_roles where rolname = ${spec.name}`).length > 0;
    if (o.metadata.deletionTimestamp) {
      if (exists && spec.databaseRoleReclaimPolicy !== 'retain') await run(`drop role ${name}`);
      finalize(ROLES, o, ROLE_FINALIZER, false);
      return;
    }
    finalize(ROLES, o, ROLE_FINALIZER, true);
    const secret = spec.passwordSecret && secrets.find((s) => s.metadata.name === spec.passwordSecret!.name);
    const b64 = secret?.data?.password as string | undefined;
    if (spec.passwordSecret && !b64) return report(ROLES, o, { applied: false, message: `password Secret ${spec.passwordSecret.name} not found` });
    const attrs = `${spec.login ? 'login' : 'nologin'}${b64 ? ` password '${Buffer.from(b64, 'base64').toString('utf8').replace(/'/g, "''")}'` : ''}`;
    await run(`${exists ? 'alter' : 'create'} role ${name} ${attrs}`, undefined, `${exists ? 'alter' : 'create'} role ${name} ${spec.login ? 'login' : 'nologin'}`);
    for (const r of spec.inRoles ?? []) await run(`grant ${ident(r)} to ${name}`);
    report(ROLES, o, { applied: true, observedGeneration: o.metadata.generation });
  }

  async function database(o: any): Promise<void> {
    const spec = o.spec as { name: string; owner: string; extensions?: { name: string; ensure?: string }[]; databaseReclaimPolicy?: string };
    const name = ident(spec.name);
    if (down) throw new Error('connection refused: the primary is down');
    const exists = (await admin`select 1 from pg_database where datname = ${spec.name}`).length > 0;
    if (o.metadata.deletionTimestamp) {
      if (exists && spec.databaseReclaimPolicy !== 'retain') await run(`drop database ${name} with (force)`);
      finalize(DBS, o, DB_FINALIZER, false);
      return;
    }
    finalize(DBS, o, DB_FINALIZER, true);
    if (!exists) await run(`create database ${name} owner ${ident(spec.owner)}`);
    else await run(`alter database ${name} owner to ${ident(spec.owner)}`);
    for (const e of spec.extensions ?? []) {
      if (!/^[a-z0-9_-]{1,63}$/.test(e.name)) throw new Error(`not an extension name: ${JSON.stringify(e.name)}`);
      await run(e.ensure === 'absent' ? `drop extension if exists "${e.name}"` : `create extension if not exists "${e.name}"`, spec.name);
    }
    report(DBS, o, { applied: true, observedGeneration: o.metadata.generation });
  }

  return {
    log,
    failing(on) {
      down = on;
    },
    async pass() {
      const secrets = await list(SECRETS);
      // Databases first when deleting (their owner must outlive them), roles first otherwise.
      const roles = await list(ROLES);
      const dbs = await list(DBS);
      const ordered = [...dbs.filter((d) => d.metadata.deletionTimestamp), ...roles.filter((r) => !r.metadata.deletionTimestamp), ...dbs.filter((d) => !d.metadata.deletionTimestamp)];
      // The login role before the owner role it is a member of, when both go.
      const leaving = roles.filter((r) => r.metadata.deletionTimestamp).sort((a, b) => Number(Boolean(b.spec.login)) - Number(Boolean(a.spec.login)));
      for (const o of [...ordered, ...leaving]) {
        const isRole = roles.includes(o);
        try {
          if (isRole) await role(o, secrets);
          else await database(o);
        } catch (err) {
          // A deleting object keeps its finalizer: the next pass tries again.
          if (!o.metadata.deletionTimestamp) report(isRole ? ROLES : DBS, o, { applied: false, message: (err as Error).message });
        }
      }
    },
    close: () => admin.end(),
  };
}
