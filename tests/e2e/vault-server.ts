// Test support: the vault api and unsealer hosted as the platform hosts them, behind one real
// listening server, routed in memory by the engine as the local cluster's gateway routes; the unsealer can be restarted in place.
import { randomBytes } from 'node:crypto';
import { createInMemoryGateway } from '#local-cluster/index';
import { loadConfig } from '#shared/config/index';
import type { Database } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import { listen, type FetchHandler } from '#shared/http/serve';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import apiDecl from '#functions/vault/api/function';
import unsealerDecl from '#functions/vault/unsealer/function';
import { wipeInstance } from '#functions/vault/unsealer/app';
import { eq } from 'drizzle-orm';
import { createRowMac, type RowMac } from '#functions/vault/core/integrity';
import { tokens } from '#functions/vault/core/schema';
import { tokenMacFields } from '#functions/vault/core/tokens';
import { createKeyring, decodeShare } from '#functions/vault/unsealer/keyring';

export interface VaultServer {
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  /** What node-vault takes as `endpoint` (it appends /v1). */
  readonly endpoint: string;
  /** The api → unsealer HMAC key both functions were given (another api instance needs it). */
  readonly internalKey: string;
  /** Simulates a pod restart of the unsealer: its memory is wiped, a fresh one takes its place. */
  restartUnsealer(): Promise<void>;
  /** The Prometheus text of the api's registry and the current unsealer's. */
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export async function startVaultServer(database: Database, extraEnv: Record<string, string> = {}): Promise<VaultServer> {
  let handler: FetchHandler = () => new Response('starting', { status: 503 });
  const server = await listen((req, env) => handler(req, env), { port: 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const config = loadConfig({ PORT: String(server.port), HOST: '127.0.0.1', ZENO_BASE_URL: baseUrl, ZENO_LOG_LEVEL: 'error' });
  const env = {
    VAULT_UNSEALER_URL: `${baseUrl}/_fn/vault-unsealer`,
    VAULT_INTERNAL_KEY: randomBytes(32).toString('base64'),
    ...extraEnv,
  };
  const registries = new Map<string, ReturnType<typeof createMetrics>>();
  const deps = (product: string, source: string) => ({
    config,
    database,
    log: silentLogger,
    metrics: registries.set(source, createMetrics({ defaults: false })).get(source)!,
    events: createEventPublisher({ product, source }),
    env,
    // The api receives its schedule's tick (lease expiry): the project's catalog parses it.
    catalog: () => import('#eventing/catalog').then((m) => m.catalog),
  });
  const api = await hostFunction(apiDecl, deps('vault', '/vault/api'));
  let unsealer = await hostFunction(unsealerDecl, deps('vault', '/vault/unsealer'));
  // The gateway holds this object; its app forwards to whichever unsealer is current.
  const unsealerSlot: HostedFunction = {
    ...unsealer,
    app: { fetch: (req: Request, e: unknown) => unsealer.app.fetch(req, e) } as unknown as HostedFunction['app'],
  };
  handler = createInMemoryGateway([api, unsealerSlot], () => new Response('not found', { status: 404 }));
  return {
    baseUrl,
    endpoint: `${baseUrl}/vault`,
    internalKey: env.VAULT_INTERNAL_KEY,
    async restartUnsealer() {
      // Only this instance's memory: another vault hosted in this process keeps its keys.
      wipeInstance(unsealer.context);
      unsealer = await hostFunction(unsealerDecl, deps('vault', '/vault/unsealer'));
    },
    async metricsText() {
      const texts = await Promise.all([...registries.values()].map((m) => m.registry.metrics()));
      return texts.join('\n');
    },
    async close() {
      await server.close(1000);
      wipeInstance(unsealer.context);
    },
  };
}

/** node-vault rejects with the HTTP answer attached: the status of a call, 200 when it succeeded. */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    const e = err as Error & { response?: { statusCode: number } };
    if (!e.response) throw err;
    return e.response.statusCode;
  }
}

/**
 * One more `vault-api` instance (another pod of it) on `database` (its own pool), listening on a
 * port of its own and using the unsealer of `vault`.
 */
export async function startVaultApi(database: Database, vault: VaultServer): Promise<{ baseUrl: string; close(): Promise<void> }> {
  let handler: FetchHandler = () => new Response('starting', { status: 503 });
  const server = await listen((req, env) => handler(req, env), { port: 0, host: '127.0.0.1' });
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const config = loadConfig({ PORT: String(server.port), HOST: '127.0.0.1', ZENO_BASE_URL: baseUrl, ZENO_LOG_LEVEL: 'error' });
  const api = await hostFunction(apiDecl, {
    config,
    database,
    log: silentLogger,
    metrics: createMetrics({ defaults: false }),
    events: createEventPublisher({ product: 'vault', source: '/vault/api' }),
    env: { VAULT_UNSEALER_URL: `${vault.baseUrl}/_fn/vault-unsealer`, VAULT_INTERNAL_KEY: vault.internalKey },
    catalog: () => import('#eventing/catalog').then((m) => m.catalog),
  });
  handler = createInMemoryGateway([api], () => new Response('not found', { status: 404 }));
  return { baseUrl, close: () => server.close(1000) };
}

/**
 * The vault's row MAC, as its operator could rebuild it from the unseal keys: for tests that age
 * or otherwise rewrite a row on purpose and must re-sign it as the vault would.
 */
export async function operatorRowMac(database: Database, keys: string[]): Promise<RowMac> {
  const keyring = createKeyring(database);
  for (const k of keys) await keyring.submitShare(decodeShare(k));
  const key = await keyring.rowMacKey();
  keyring.wipe();
  try {
    return createRowMac(key);
  } finally {
    key.fill(0);
  }
}

/** An answer of the Vault API: status and parsed JSON body (`{}` when empty). */
export interface Answer {
  status: number;
  body: Record<string, unknown> & { errors?: string[] };
}

/** One unauthenticated Vault API call (sys/ ceremonies and status), JSON body or none. */
export async function call(vs: VaultServer, method: string, path: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${vs.baseUrl}/vault/v1/${path}`, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
}

/** Re-signs a token row a test rewrote on purpose (aged, expired), as the vault would sign it. */
export async function resignToken(database: Database, mac: RowMac, accessor: string): Promise<void> {
  const [row] = await database.db.select().from(tokens).where(eq(tokens.accessor, accessor));
  if (!row) throw new Error(`no token row ${accessor}`);
  await database.db.update(tokens).set({ mac: mac.sign('tokens', tokenMacFields(row)) }).where(eq(tokens.accessor, accessor));
}
