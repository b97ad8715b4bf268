// ZenoMail's functions hosted in the test process on a test database, as the platform hosts them.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { catalog } from '#eventing/catalog';
import { loadConfig } from '#shared/config/index';
import type { Database } from '#shared/db/index';
import { createEventPublisher } from '#shared/events/outbox';
import type { FunctionDeclaration } from '#shared/function/define';
import { hostFunction, type HostedFunction } from '#shared/function/host';
import { silentLogger } from '#shared/log/index';
import { createMetrics } from '#shared/metrics/index';
import { deriveMailKeys, type MailKeys } from '../core/keys.js';
import { startTestIssuer, type TestIssuer } from './issuer.js';

export interface MailHarness {
  issuer: TestIssuer;
  keys: MailKeys;
  hosted: HostedFunction[];
  /** A request to the hosted function `name` (default mail-api). */
  request(path: string, init?: RequestInit, name?: string): Promise<Response>;
  close(): Promise<void>;
}

export async function startMailHarness(database: Database, declarations: FunctionDeclaration[], env: Record<string, string> = {}): Promise<MailHarness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'zk-mail-'));
  const issuer = await startTestIssuer();
  const serviceKey = randomBytes(32);
  const fullEnv = {
    ZENO_MAIL_SERVICE_KEY: serviceKey.toString('base64'),
    ZENO_MAIL_ISSUER_BASE: issuer.base,
    ZENO_MAIL_SENDER_DOMAINS: 'acme.test',
    ...env,
  };
  const config = loadConfig({ ZENO_BASE_URL: 'http://localhost:8080', ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'error' });
  const metrics = createMetrics({ defaults: false });
  const hosted: HostedFunction[] = [];
  for (const decl of declarations) {
    const events = createEventPublisher({ product: 'mail', source: `/mail/${decl.name.slice('mail-'.length)}`, check: (e) => catalog.checkOutgoing(e) });
    hosted.push(await hostFunction(decl, { config, database, log: silentLogger, metrics, events, env: fullEnv, catalog }));
  }
  return {
    issuer,
    keys: deriveMailKeys(serviceKey),
    hosted,
    request: async (path, init, name = 'mail-api') => hosted.find((h) => h.declaration.name === name)!.app.request(path, init, { incoming: { socket: { remoteAddress: '127.0.0.1' } } }),
    close: async () => {
      for (const h of hosted) await h.module.shutdown?.();
      await issuer.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
