// What a cluster's controllers do for ZenoScope's objects, done on one machine: CloudNativePG's
// declarative roles and databases made on the local PostgreSQL server; the RemoteSecret operator's
// sync from the local ZenoVault into a Secret of the store; ZenoIngress taking the HTTPRoutes (the
// running stack serves the manifests written for it and reports on them); the garbage collector
// removing what an owner no longer holds. One pass each time; the reconcile loop runs them between
// its passes.
// @see https://cloudnative-pg.io/documentation/current/declarative_database_management/
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { stringify } from 'yaml';
import { base64Values, type KubeObject } from '#functions/scope/core/objects';
import type { VaultApi } from '#functions/scope/reconcile/vault-api';
import { routesDigest, routesDirOf, routesStatusOf } from '#local-cluster/index';
import type { LocalStore } from './local-store.js';

/** Held by a role or database made here until it has been dropped again. */
const FINALIZER = 'scope.zenokube.io/local-database';
const FILE_PREFIX = 'scope-';
const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
const ident = (s: string): string => {
  if (!IDENT.test(s)) throw new Error(`not a PostgreSQL identifier: ${JSON.stringify(s)}`);
  return `"${s}"`;
};

interface LocalControllers {
  /** One pass of every controller; true when it changed something. */
  pass(): Promise<boolean>;
  close(): Promise<void>;
}

interface LocalControllerOptions {
  store: LocalStore;
  /** A connection allowed to create roles and databases (DATABASE_URL); undefined under PGlite. */
  databaseUrl: string | undefined;
  vault: VaultApi | undefined;
  /** The stack's ingress directory (`<data dir>/ingress`). */
  ingressDir: string;
  /** Service `name` (any namespace) → where it listens; default 127.0.0.1 and the port the route names. */
  services: ReadonlyMap<string, { host: string; port: number }>;
  /** Waits between reads of the stack's route status, and how many. */
  statusPolls?: { attempts: number; intervalMs: number };
}

export function startLocalControllers(o: LocalControllerOptions): LocalControllers {
  const { store } = o;
  const sql = o.databaseUrl ? postgres(o.databaseUrl, { max: 1, onnotice: () => {} }) : undefined;
  let changed = false;
  const status = (obj: KubeObject, s: unknown) => {
    if (JSON.stringify(obj.status) === JSON.stringify(s)) return;
    store.setStatus(obj, s);
    changed = true;
  };
  const finalize = async (obj: KubeObject, on: boolean) => {
    const have = (obj.metadata.finalizers as string[] | undefined) ?? [];
    if (on === have.includes(FINALIZER)) return;
    await store.mergePatch({ apiVersion: obj.apiVersion, kind: obj.kind, ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}), name: obj.metadata.name }, { metadata: { finalizers: on ? [...have, FINALIZER] : have.filter((f) => f !== FINALIZER) } });
    changed = true;
  };

  async function role(obj: KubeObject, db: postgres.Sql): Promise<void> {
    const spec = obj.spec as { name: string; login?: boolean; inRoles?: string[]; passwordSecret?: { name: string }; databaseRoleReclaimPolicy?: string };
    const name = ident(spec.name);
    const exists = (await db`select 1 from pg_roles where rolname = ${spec.name}`).length > 0;
    if (obj.metadata.deletionTimestamp) {
      if (exists && spec.databaseRoleReclaimPolicy !== 'retain') await db.unsafe(`drop role ${name}`);
      return finalize(obj, false);
    }
    await finalize(obj, true);
    const secret = spec.passwordSecret && (await store.get({ apiVersion: 'v1', kind: 'Secret', namespace: obj.metadata.namespace!, name: spec.passwordSecret.name }));
    const b64 = (secret?.data as Record<string, string> | undefined)?.password;
    if (spec.passwordSecret && !b64) return status(obj, { applied: false, message: `password Secret ${spec.passwordSecret.name} not found` });
    const password = b64 ? ` password '${Buffer.from(b64, 'base64').toString('utf8').replace(/'/g, "''")}'` : '';
    await db.unsafe(`${exists ? 'alter' : 'create'} role ${name} ${spec.login ? 'login' : 'nologin'}${password}`);
    for (const r of spec.inRoles ?? []) await db.unsafe(`grant ${ident(r)} to ${name}`);
    status(obj, { applied: true, observedGeneration: obj.metadata.generation });
  }

  async function database(obj: KubeObject, db: postgres.Sql): Promise<void> {
    const spec = obj.spec as { name: string; owner: string; extensions?: { name: string; ensure?: string }[]; databaseReclaimPolicy?: string };
    const name = ident(spec.name);
    const exists = (await db`select 1 from pg_database where datname = ${spec.name}`).length > 0;
    if (obj.metadata.deletionTimestamp) {
      if (exists && spec.databaseReclaimPolicy !== 'retain') await db.unsafe(`drop database ${name} with (force)`);
      return finalize(obj, false);
    }
    await finalize(obj, true);
    await db.unsafe(exists ? `alter database ${name} owner to ${ident(spec.owner)}` : `create database ${name} owner ${ident(spec.owner)}`);
    const u = new URL(o.databaseUrl!);
    u.pathname = `/${spec.name}`;
    const inside = postgres(u.toString(), { max: 1, onnotice: () => {} });
    try {
      for (const e of spec.extensions ?? []) {
        if (!/^[a-z0-9_-]{1,63}$/.test(e.name)) throw new Error(`not an extension name: ${JSON.stringify(e.name)}`);
        await inside.unsafe(e.ensure === 'absent' ? `drop extension if exists "${e.name}"` : `create extension if not exists "${e.name}"`);
      }
    } finally {
      await inside.end();
    }
    status(obj, { applied: true, observedGeneration: obj.metadata.generation });
  }

  async function databases(): Promise<void> {
    const all = store.all().filter((x) => x.apiVersion === 'postgresql.cnpg.io/v1');
    const roles = all.filter((x) => x.kind === 'DatabaseRole');
    const dbs = all.filter((x) => x.kind === 'Database');
    const going = (x: KubeObject) => Boolean(x.metadata.deletionTimestamp);
    // Databases go before the roles that own them, login roles before the owner role.
    const order = [...dbs.filter(going), ...roles.filter(going).sort((a, b) => Number(Boolean((b.spec as any).login)) - Number(Boolean((a.spec as any).login))), ...roles.filter((x) => !going(x)), ...dbs.filter((x) => !going(x))];
    for (const obj of order) {
      if (!sql) {
        if (going(obj)) await finalize(obj, false);
        else status(obj, { applied: false, message: 'local mode makes databases on the PostgreSQL server of DATABASE_URL, which is unset (the embedded PGlite serves only the process that runs it)' });
        continue;
      }
      try {
        if (obj.kind === 'DatabaseRole') await role(obj, sql);
        else await database(obj, sql);
      } catch (err) {
        if (!going(obj)) status(obj, { applied: false, message: (err as Error).message.slice(0, 300) });
      }
    }
  }

  async function remoteSecrets(): Promise<void> {
    for (const rs of store.all().filter((x) => x.kind === 'RemoteSecret' && !x.metadata.deletionTimestamp)) {
      const spec = rs.spec as { path: string; target?: { name?: string } };
      const target = spec.target?.name ?? rs.metadata.name;
      const ready = (s: 'True' | 'False', reason: string, message: string) => ({ conditions: [{ type: 'Ready', status: s, reason, message, observedGeneration: rs.metadata.generation }] });
      if (!o.vault) {
        status(rs, ready('False', 'VaultUnavailable', 'no ZenoVault token (VAULT_TOKEN) was given'));
        continue;
      }
      const data = await o.vault.readSecret(spec.path).catch((err: Error) => err);
      if (data instanceof Error || !data) {
        status(rs, ready('False', 'SecretSyncedError', data instanceof Error ? data.message.slice(0, 300) : `secret/${spec.path} is empty`));
        continue;
      }
      const want = base64Values(Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v)])));
      const have = await store.get({ apiVersion: 'v1', kind: 'Secret', namespace: rs.metadata.namespace!, name: target });
      if (JSON.stringify(have?.data) !== JSON.stringify(want)) {
        await store.apply(
          { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: target, namespace: rs.metadata.namespace!, ownerReferences: [{ apiVersion: rs.apiVersion, kind: rs.kind, name: rs.metadata.name, uid: rs.metadata.uid, controller: true }] }, data: want },
          'vault-remote-secret-sync',
          true,
        );
        changed = true;
      }
      status(rs, ready('True', 'SecretSynced', `Secret ${target} holds secret/${spec.path}`));
    }
  }

  /** The garbage collector: an object whose owner is gone goes too. */
  async function collectGarbage(): Promise<void> {
    const all = store.all();
    const uids = new Set(all.map((x) => x.metadata.uid));
    for (const x of all) {
      const owners = (x.metadata.ownerReferences as { uid: string }[] | undefined) ?? [];
      if (owners.length > 0 && owners.every((ref) => !uids.has(ref.uid))) {
        await store.remove({ apiVersion: x.apiVersion, kind: x.kind, ...(x.metadata.namespace ? { namespace: x.metadata.namespace } : {}), name: x.metadata.name });
        changed = true;
      }
    }
  }

  /** The route manifests of one namespace, with a Service and EndpointSlice for each backend. */
  function manifestsOf(namespace: string, routes: KubeObject[]): string {
    const docs: unknown[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, labels: { 'kubernetes.io/metadata.name': namespace } } }];
    const backends = new Map<string, Set<number>>();
    for (const r of routes) {
      docs.push({ apiVersion: r.apiVersion, kind: r.kind, metadata: { name: r.metadata.name, namespace, generation: r.metadata.generation }, spec: r.spec });
      for (const rule of (r.spec as { rules?: { backendRefs?: { name: string; port: number }[] }[] }).rules ?? []) {
        for (const b of rule.backendRefs ?? []) backends.set(b.name, (backends.get(b.name) ?? new Set()).add(b.port));
      }
    }
    for (const [name, ports] of backends) {
      docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { ports: [...ports].map((port) => ({ name: `p${port}`, port })) } });
      // One slice per port: a --service mapping moves the service's one port; without, each port is the same port on the loopback.
      for (const port of ports) {
        const at = o.services.get(name) ?? { host: '127.0.0.1', port };
        docs.push({
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: `${name}-${port}-local`, namespace, labels: { 'kubernetes.io/service-name': name } },
          addressType: at.host.includes(':') ? 'IPv6' : 'IPv4',
          endpoints: [{ addresses: [at.host], conditions: { ready: true } }],
          ports: [{ name: `p${port}`, port: at.port, protocol: 'TCP' }],
        });
      }
    }
    return docs.map((d) => stringify(d)).join('---\n');
  }

  async function routes(): Promise<void> {
    const dir = routesDirOf(o.ingressDir);
    const byNamespace = new Map<string, KubeObject[]>();
    for (const r of store.all().filter((x) => x.kind === 'HTTPRoute' && !x.metadata.deletionTimestamp)) byNamespace.set(r.metadata.namespace!, [...(byNamespace.get(r.metadata.namespace!) ?? []), r]);
    mkdirSync(dir, { recursive: true });
    let wrote = false;
    for (const [ns, rs] of byNamespace) {
      const file = join(dir, `${FILE_PREFIX}${ns}.yaml`);
      const text = manifestsOf(ns, rs);
      let old: string | undefined;
      try {
        old = readFileSync(file, 'utf8');
      } catch {
        old = undefined;
      }
      if (old !== text) {
        writeFileSync(file, text);
        wrote = true;
      }
    }
    for (const f of readdirSync(dir).filter((n) => n.startsWith(FILE_PREFIX) && n.endsWith('.yaml'))) {
      if (!byNamespace.has(f.slice(FILE_PREFIX.length, -'.yaml'.length))) {
        rmSync(join(dir, f), { force: true });
        wrote = true;
      }
    }
    if (byNamespace.size === 0 && !wrote) return;
    // The running stack reports on what it read; its report counts once it has read these files.
    const digest = routesDigest(dir);
    const polls = o.statusPolls ?? { attempts: 100, intervalMs: 50 };
    let report: { digest?: string; httpRoutes?: Record<string, unknown> } | undefined;
    for (let i = 0; i < polls.attempts; i++) {
      try {
        report = JSON.parse(readFileSync(routesStatusOf(o.ingressDir), 'utf8')) as typeof report;
      } catch {
        report = undefined;
      }
      if (report?.digest === digest) break;
      await new Promise((r) => setTimeout(r, polls.intervalMs));
    }
    if (report?.digest !== digest) return;
    for (const rs of byNamespace.values()) for (const r of rs) status(r, report.httpRoutes?.[`${r.metadata.namespace}/${r.metadata.name}`] ?? { parents: [] });
  }

  return {
    async pass() {
      changed = false;
      await databases();
      await remoteSecrets();
      await collectGarbage();
      await routes();
      return changed;
    },
    close: async () => {
      await sql?.end();
    },
  };
}
