// Hosts every ZenoAuth function behind the local cluster's gateway (in memory), as tests and benchmarks need
// it: in memory (`fetch`) or over a real socket (`listen: true`), with baseUrl = that server.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalog } from '#eventing/catalog';
import { createInMemoryGateway } from '#local-cluster/index';
import { loadConfig } from '#shared/config/index';
import type { Database } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import type { FunctionDeclaration } from '#shared/function/define';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import { listen, type RunningServer } from '#shared/http/serve';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import admin from '../admin/function.js';
import authorize from '../authorize/function.js';
import oidc from '../oidc/function.js';
import saml from '../saml/function.js';
import scim from '../scim/function.js';
import token from '../token/function.js';

const AUTH_FUNCTIONS: FunctionDeclaration[] = [authorize, token, oidc, admin, scim, saml];

export interface AuthHarness {
  readonly baseUrl: string;
  /** The port the stack listens on (with `listen: true`). */
  readonly port: number | undefined;
  readonly adminSecret: string;
  readonly hosted: HostedFunction[];
  /** Sends a request to the stack (in memory, or over the socket when listening). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  close(): Promise<void>;
}

interface HarnessOptions {
  listen?: boolean;
  functions?: FunctionDeclaration[];
  env?: Record<string, string>;
  /** The public base URL when the stack is reached through something else (an ingress in front). */
  baseUrl?: string;
}

/** Starts the auth functions on `database` (already migrated). */
export async function startAuthHarness(database: Database, opts: HarnessOptions = {}): Promise<AuthHarness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'zk-auth-'));
  const adminSecret = randomBytes(32).toString('base64url');
  const env = {
    ZENO_AUTH_MASTER_KEY: randomBytes(32).toString('base64'),
    ZENO_BOOTSTRAP_CLIENT_SECRET: adminSecret,
    ...opts.env,
  };
  let handler: (req: Request, e: unknown) => Response | Promise<Response> = () => new Response('starting', { status: 503 });
  let server: RunningServer | undefined;
  let baseUrl = 'http://localhost:8080';
  if (opts.listen) {
    server = await listen((req, e) => handler(req, e), { port: 0, host: '::' });
    baseUrl = `http://localhost:${server.port}`;
  }
  if (opts.baseUrl) baseUrl = opts.baseUrl;
  const config = loadConfig({ ZENO_BASE_URL: baseUrl, ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'error' });
  const metrics = createMetrics({ defaults: false });
  const hosted: HostedFunction[] = [];
  for (const decl of opts.functions ?? AUTH_FUNCTIONS) {
    // The catalog check the platform applies: a payload that does not match its schema fails the test.
    const events = createEventPublisher({ product: 'auth', source: `/auth/${decl.name.slice('auth-'.length)}`, check: (e) => catalog.checkOutgoing(e) });
    hosted.push(await hostFunction(decl, { config, database, log: silentLogger, metrics, events, env, catalog }));
  }
  const dispatch = createInMemoryGateway(hosted, () => new Response('no route', { status: 404 }));
  handler = dispatch;
  const loopback = { incoming: { socket: { remoteAddress: '127.0.0.1' } } };
  return {
    baseUrl,
    port: server?.port,
    adminSecret,
    hosted,
    fetch: (path, init) =>
      server ? fetch(baseUrl + path, { redirect: 'manual', ...init }) : Promise.resolve(dispatch(new Request(baseUrl + path, init), loopback)),
    close: async () => {
      await server?.close(1000);
      for (const h of hosted) await h.module.shutdown?.();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
