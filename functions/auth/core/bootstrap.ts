// First start: the `system` tenant and its confidential admin client `zeno-admin` (scope
// zeno:admin). Its secret comes from ZENO_BOOTSTRAP_CLIENT_SECRET; on one machine, when unset,
// it is generated, printed once and kept under the data dir (mode 0600).
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import type { Db } from '#shared/db/index';
import { randomHandle, safeEqual, sha256Hex } from './crypto.js';
import { clients, tenants } from './schema.js';

export const SYSTEM_TENANT = 'system';
export const ADMIN_CLIENT_ID = 'zeno-admin';
export const ADMIN_SCOPE = 'zeno:admin';

const bootstrapSecretPath = (dataDir: string) => join(dataDir, 'auth', 'bootstrap-client-secret');

interface BootstrapOptions {
  configuredSecret: string | undefined;
  dataDir: string;
  allowGenerate: boolean;
  /** Shows the generated secret to the operator, once. */
  announce: (message: string) => void;
}

async function readStoredSecret(dataDir: string): Promise<string | undefined> {
  try {
    return (await readFile(bootstrapSecretPath(dataDir), 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Idempotent: creates what is missing; a configured secret replaces a different stored one. */
export async function ensureBootstrap(db: Db, opts: BootstrapOptions): Promise<void> {
  await db.insert(tenants).values({ slug: SYSTEM_TENANT, displayName: 'System' }).onConflictDoNothing();
  const [system] = await db.select().from(tenants).where(eq(tenants.slug, SYSTEM_TENANT));
  if (!system) throw new Error('system tenant missing after insert');
  const [existing] = await db
    .select()
    .from(clients)
    .where(and(eq(clients.tenantId, system.id), eq(clients.clientId, ADMIN_CLIENT_ID)));
  if (existing) {
    if (opts.configuredSecret && !safeEqual(existing.secretHash ?? '', sha256Hex(opts.configuredSecret))) {
      await db.update(clients).set({ secretHash: sha256Hex(opts.configuredSecret) }).where(eq(clients.id, existing.id));
    }
    return;
  }
  let secret = opts.configuredSecret ?? (await readStoredSecret(opts.dataDir));
  let generated = false;
  if (!secret) {
    if (!opts.allowGenerate) throw new Error('ZENO_BOOTSTRAP_CLIENT_SECRET is required when running in a cluster');
    secret = randomHandle(32);
    generated = true;
  }
  const [inserted] = await db
    .insert(clients)
    .values({
      tenantId: system.id,
      clientId: ADMIN_CLIENT_ID,
      name: 'Zenokube administration',
      secretHash: sha256Hex(secret),
      tokenEndpointAuthMethod: 'client_secret_basic',
      grantTypes: ['client_credentials'],
      scopes: [ADMIN_SCOPE],
      firstParty: true,
      accessTokenTtl: 600,
    })
    .onConflictDoNothing()
    .returning({ id: clients.id });
  if (inserted && generated) {
    const file = bootstrapSecretPath(opts.dataDir);
    await mkdir(join(opts.dataDir, 'auth'), { recursive: true, mode: 0o700 });
    await writeFile(file, secret + '\n', { mode: 0o600 });
    await chmod(file, 0o600);
    opts.announce(
      `ZenoAuth admin client created: client_id=${ADMIN_CLIENT_ID} client_secret=${secret}\n` +
        `(shown once; also kept in ${file}, mode 0600)\n`,
    );
  }
}
