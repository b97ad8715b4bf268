// `zenokube apply -f scope.yaml` / `zenokube delete -f scope.yaml`: ZenoScope's local mode. The
// same reconcile as scope-reconcile's (functions/scope/reconcile/reconciler.ts) runs in this
// process against the stack `npm start` runs: the objects it writes are kept in a file under the
// data directory (./scope/local-store.ts), ZenoVault and ZenoAuth are called over HTTP, and what a
// cluster's controllers do is done by ./scope/local-controllers.ts: the role and database made on
// the local PostgreSQL, the RemoteSecret synced, the routes served by the stack's ingress.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { createAuthApi } from '#functions/scope/reconcile/auth-api';
import type { Reconciler } from '#functions/scope/reconcile/deps';
import { reconcileTarget, type Target } from '#functions/scope/reconcile/reconciler';
import { createVaultApi } from '#functions/scope/reconcile/vault-api';
import { loadConfig } from '#shared/config/index';
import { silentLogger } from '#shared/log/index';
import { startLocalControllers } from './scope/local-controllers.js';
import { openLocalStore } from './scope/local-store.js';

const USAGE = `usage: zenokube apply -f FILE [--service NAME=[HOST:]PORT ...]
       zenokube delete -f FILE

Provisions (apply) or tears down (delete) the ZenoScope and ZenoApp resources of FILE against the
stack \`npm start\` runs, without Kubernetes. --service says where a route's Service listens on this
machine (default: 127.0.0.1 and the port the route names).

environment: ZENO_BASE_URL, ZENO_DATA_DIR, DATABASE_URL (where databases and roles are made),
VAULT_TOKEN (a ZenoVault token allowed to write policies, auth/kubernetes roles and secret/),
ZENO_BOOTSTRAP_CLIENT_SECRET (else the stack's file under the data directory)
`;

interface ScopeCliIo {
  env: Readonly<Record<string, string | undefined>>;
  out(text: string): void;
  err(text: string): void;
}

const API_VERSION = 'scope.zenokube.io/v1alpha1';
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Rounds without progress before the command gives up and reports where it stands. */
const STALLED = 2;
const MAX_ROUNDS = 40;

interface Resource {
  apiVersion: string;
  kind: 'ZenoScope' | 'ZenoApp';
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: unknown;
}

function resourcesOf(text: string): Resource[] | string {
  const out: Resource[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) return `not YAML: ${doc.errors[0]!.message}`;
    const o = doc.toJS() as Partial<Resource> | null;
    if (o === null) continue;
    if (o.apiVersion !== API_VERSION || (o.kind !== 'ZenoScope' && o.kind !== 'ZenoApp')) return `only ${API_VERSION} ZenoScope and ZenoApp are handled here, not ${String(o.apiVersion)} ${String(o.kind)}`;
    const name = o.metadata?.name;
    const namespace = o.kind === 'ZenoApp' ? (o.metadata?.namespace ?? 'default') : undefined;
    if (typeof name !== 'string' || !DNS_LABEL.test(name)) return `metadata.name ${JSON.stringify(name)} is not a DNS label`;
    if (namespace !== undefined && !DNS_LABEL.test(namespace)) return `metadata.namespace ${JSON.stringify(namespace)} is not a DNS label`;
    out.push({ apiVersion: API_VERSION, kind: o.kind, metadata: { name, ...(namespace ? { namespace } : {}), ...(o.metadata?.labels ? { labels: o.metadata.labels } : {}) }, spec: o.spec ?? {} });
  }
  return out.length > 0 ? out : 'no ZenoScope or ZenoApp in the file';
}

function servicesOf(values: string[]): Map<string, { host: string; port: number }> | string {
  const out = new Map<string, { host: string; port: number }>();
  for (const v of values) {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)=(?:(\[[0-9a-f:]+\]|[a-zA-Z0-9.-]+):)?([0-9]{1,5})$/.exec(v);
    const port = Number(m?.[4]);
    if (!m || port < 1 || port > 65535) return `--service ${v}: expected NAME=[HOST:]PORT`;
    out.set(m[1]!, { host: (m[3] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port });
  }
  return out;
}

async function adminSecret(env: ScopeCliIo['env'], dataDir: string): Promise<string | undefined> {
  if (env.ZENO_BOOTSTRAP_CLIENT_SECRET) return env.ZENO_BOOTSTRAP_CLIENT_SECRET;
  return readFile(join(dataDir, 'auth', 'bootstrap-client-secret'), 'utf8').then((s) => s.trim(), () => undefined);
}

function report(io: ScopeCliIo, label: string, status: any): void {
  const conditions: { type: string; status: string; reason: string; message: string }[] = status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  io.out(`${label}: ${status?.phase ?? 'Unknown'}${ready ? ` (${ready.reason})` : ''}\n`);
  for (const c of conditions) io.out(`  ${c.type.padEnd(18)} ${c.status.padEnd(7)} ${c.reason.padEnd(22)} ${c.message}\n`);
  if (status?.databaseSecret && status?.vaultPath) io.out(`  database credentials: vault secret/${status.vaultPath}/database\n`);
  if (status?.oauthClientId && status?.vaultPath) io.out(`  OAuth client ${status.oauthClientId}: vault secret/${status.vaultPath}/oauth\n`);
}

/** Runs `apply` or `delete` with `args`; the exit code. */
export async function runScopeCli(verb: 'apply' | 'delete', argv: string[], io: ScopeCliIo): Promise<number> {
  const args = [...argv];
  let file: string | undefined;
  const services: string[] = [];
  while (args.length > 0) {
    const a = args.shift()!;
    if ((a === '-f' || a === '--filename') && args[0]) file = args.shift();
    else if (a === '--service' && args[0] && verb === 'apply') services.push(args.shift()!);
    else return (io.err(`unexpected argument ${a}\n\n${USAGE}`), 2);
  }
  if (!file) return (io.err(USAGE), 2);
  const text = await readFile(file, 'utf8').catch((err: Error) => err);
  if (text instanceof Error) return (io.err(`cannot read ${file}: ${text.message}\n`), 2);
  const resources = resourcesOf(text);
  if (typeof resources === 'string') return (io.err(`${file}: ${resources}\n`), 2);
  const serviceMap = servicesOf(services);
  if (typeof serviceMap === 'string') return (io.err(`${serviceMap}\n`), 2);

  const config = loadConfig(io.env);
  const store = openLocalStore(join(config.dataDir, 'scope', 'objects.json'));
  const vaultToken = io.env.VAULT_TOKEN;
  const vault = vaultToken ? createVaultApi(`${config.baseUrl}/vault`, async () => vaultToken) : undefined;
  const secret = await adminSecret(io.env, config.dataDir);
  const db = config.databaseUrl ? new URL(config.databaseUrl) : undefined;
  const r: Reconciler = {
    kube: store,
    ...(vault ? { vault } : {}),
    ...(secret ? { auth: createAuthApi(config.baseUrl, 'zeno-admin', secret) } : {}),
    log: silentLogger,
    leaseNamespace: 'zenokube',
    holder: `zenokube-cli-${process.pid}`,
    now: () => new Date(),
    ...(db ? { databaseEndpoint: { host: db.hostname.replace(/^\[|\]$/g, ''), port: Number(db.port || 5432) } } : {}),
  };
  const controllers = startLocalControllers({ store, databaseUrl: config.databaseUrl, vault, ingressDir: join(config.dataDir, 'ingress'), services: serviceMap });
  let code = 0;
  try {
    for (const res of resources) {
      const target: Target = { kind: res.kind, ...(res.metadata.namespace ? { namespace: res.metadata.namespace } : {}), name: res.metadata.name };
      const ref = { apiVersion: API_VERSION, kind: res.kind, ...(res.metadata.namespace ? { namespace: res.metadata.namespace } : {}), name: res.metadata.name };
      const label = `${res.kind}/${res.metadata.namespace ? `${res.metadata.namespace}/` : ''}${res.metadata.name}`;
      if (verb === 'apply') await store.apply(res as never, 'zenokube-cli', true);
      else if (!(await store.remove(ref))) {
        io.err(`${label}: not found\n`);
        code = 1;
        continue;
      }
      let stalled = 0;
      let last = '';
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const outcome = await reconcileTarget(r, target);
        const moved = await controllers.pass();
        if (outcome.result === 'gone') {
          io.out(`${label}: deleted\n`);
          break;
        }
        const now = JSON.stringify((await store.get(ref))?.status);
        if (outcome.result === 'failed' || outcome.result === 'busy' || (outcome.result === 'reconciled' && outcome.done)) {
          report(io, label, (await store.get(ref))?.status);
          if (outcome.result !== 'reconciled') code = 1;
          break;
        }
        stalled = moved || now !== last || outcome.passes > 1 ? 0 : stalled + 1;
        last = now;
        if (stalled >= STALLED || round === MAX_ROUNDS - 1) {
          report(io, label, (await store.get(ref))?.status);
          io.err(`${label}: not ${verb === 'apply' ? 'ready' : 'removed'}; the conditions above say what it waits for (is \`npm start\` running?)\n`);
          code = 1;
          break;
        }
      }
    }
  } finally {
    await controllers.close();
  }
  return code;
}

export function main(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== 'apply' && verb !== 'delete') {
    process.stderr.write(USAGE);
    return Promise.resolve(2);
  }
  return runScopeCli(verb, rest, { env: process.env, out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) });
}
