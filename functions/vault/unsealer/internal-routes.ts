// The internal channel the api calls: unwrap a DEK (or several at once), mint a DEK, fetch an
// audit line key (never the audit key itself) and the row-MAC key, create an engine's mount at its
// first use.
// Every request must carry a valid HMAC signature (core/internal-auth.ts); the unsealer never
// receives secret data, only wrapped keys, and returns only DEKs.
import { Hono } from 'hono';
import { eq } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { z } from 'zod';
import { createVerifier, SIGNATURE_HEADER } from '#functions/vault/core/internal-auth';
import { VaultError, invalidRequest, sealedError } from '#functions/vault/core/errors';
import { newLineKey } from '#functions/vault/core/audit';
import { DecryptError } from '#functions/vault/core/envelope';
import { json } from '#functions/vault/http/wire';
import { mounts } from '#functions/vault/core/schema';
import type { Keyring } from './keyring.js';
import { ensureWrappingMount, WRAPPING_MOUNT } from './wrapping-mount.js';

const MOUNT = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}\/$/);
const CONTEXT = z.string().min(1).max(4096);
const unwrapSchema = z.object({ mount: MOUNT, context: CONTEXT, wrapped: z.base64().max(256) });
const newSchema = z.object({ mount: MOUNT, context: CONTEXT });

export function internalRoutes(keyring: Keyring, internalKey: Buffer, database: Database): Hono<{ Variables: { body: unknown } }> {
  const app = new Hono<{ Variables: { body: unknown } }>();
  const verify = createVerifier(internalKey);

  // A sealed replica tells the api's keep-alive pool to drop its connection here: behind a Service
  // the api's next connection may reach an unsealed replica (see api/unsealer-client.ts).
  app.use('*', async (c, next) => {
    await next();
    if (c.res.status === 503) c.res.headers.set('connection', 'close');
  });

  app.use('*', async (c, next) => {
    const text = await c.req.text();
    if (text.length > 64 * 1024) throw invalidRequest('request too large');
    const result = verify(c.req.header(SIGNATURE_HEADER), c.req.method, new URL(c.req.url).pathname, text);
    if (!result.ok) throw new VaultError(401, 'internal_auth_failed', [`internal authentication failed: ${result.reason}`]);
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw invalidRequest('malformed JSON');
    }
    c.set('body', body);
    await next();
  });

  const parse = <S extends z.ZodType>(schema: S, v: unknown): z.infer<S> => {
    const r = schema.safeParse(v);
    if (!r.success) throw invalidRequest('malformed internal request');
    return r.data;
  };

  app.post('/status', async () => json({ sealed: keyring.isSealed() }));

  app.post('/dek/unwrap', async (c) => {
    const { mount, context, wrapped } = parse(unwrapSchema, c.get('body'));
    try {
      const dek = await keyring.unwrapDek(mount, context, Buffer.from(wrapped, 'base64'));
      const out = json({ dek: dek.toString('base64') });
      dek.fill(0);
      return out;
    } catch (err) {
      if (err instanceof DecryptError) throw new VaultError(400, 'unwrap_failed', ['the wrapped key does not belong to this context']);
      throw err;
    }
  });

  app.post('/dek/new', async (c) => {
    const { mount, context } = parse(newSchema, c.get('body'));
    const { dek, wrapped } = await keyring.newDek(mount, context);
    const out = json({ dek: dek.toString('base64'), wrapped: wrapped.toString('base64') });
    dek.fill(0);
    return out;
  });

  app.post('/row-mac-key', async () => {
    // The epoch check (and, once, the upgrade) runs first: a rolled-back epoch row is refused here.
    const { epoch } = await keyring.rowMac();
    const key = await keyring.rowMacKey();
    const out = json({ key: key.toString('base64'), epoch });
    key.fill(0);
    return out;
  });

  // Response wrapping: a DEK for the `cubbyhole/` mount, whose KEK is created at first use.
  app.post('/wrapping/dek/new', async (c) => {
    const { context } = parse(z.object({ context: CONTEXT }), c.get('body'));
    await ensureWrappingMount(database, keyring);
    const { dek, wrapped } = await keyring.newDek(WRAPPING_MOUNT, context);
    const out = json({ dek: dek.toString('base64'), wrapped: wrapped.toString('base64') });
    dek.fill(0);
    return out;
  });

  // Several wrapped keys of one mount in one exchange (a transit batch): each opened as
  // /dek/unwrap opens one; all or nothing.
  app.post('/dek/unwrap-batch', async (c) => {
    const { mount, items } = parse(unwrapBatchSchema, c.get('body'));
    const deks: Buffer[] = [];
    try {
      for (const item of items) deks.push(await keyring.unwrapDek(mount, item.context, Buffer.from(item.wrapped, 'base64')));
      return json({ deks: deks.map((d) => d.toString('base64')) });
    } catch (err) {
      if (err instanceof DecryptError) throw new VaultError(400, 'unwrap_failed', ['a wrapped key does not belong to its context']);
      throw err;
    } finally {
      for (const d of deks) d.fill(0);
    }
  });

  // --- leases: engine mounts created at first use, so that a vault initialized before an engine
  // existed gets it without a step of its own. Only the engines listed here; a KEK of its own each.
  app.post('/mounts/ensure', async (c) => {
    const { mount } = parse(ensureMountSchema, c.get('body'));
    const spec = ENGINE_MOUNTS[mount];
    if (!spec) throw invalidRequest('unknown engine mount');
    const exists = await database.db.select({ path: mounts.path }).from(mounts).where(eq(mounts.path, mount));
    if (exists.length === 0) await keyring.addMount(database.db, mount, spec.type, spec.description);
    return json({ mount });
  });

  // The api's check that this replica still holds the keys: 503 (and the connection closed, so
  // that the api's retry may reach another replica) while sealed.
  app.post('/unsealed', async () => {
    if (keyring.isSealed()) throw sealedError();
    return json({ sealed: false });
  });

  // A fresh audit line key and its id (core/audit.ts): it hashes and verifies only the rows
  // written with it, never those of another replica or an earlier key. The audit key stays here.
  app.post('/audit-line-key', async () => {
    const auditKey = await keyring.auditKey();
    try {
      const { key, id } = newLineKey(auditKey);
      const out = json({ key: key.toString('base64'), id });
      key.fill(0);
      return out;
    } finally {
      auditKey.fill(0);
    }
  });

  return app;
}

/** Keys one /dek/unwrap-batch call opens at most (the request stays under the 64 KiB bound). */
const UNWRAP_BATCH_MAX = 200;
const unwrapBatchSchema = z.object({
  mount: MOUNT,
  items: z.array(z.object({ context: z.string().min(1).max(256), wrapped: z.base64().max(256) })).min(1).max(UNWRAP_BATCH_MAX),
});
/** Engine mounts the api may ask for: path → type and description. */
const ENGINE_MOUNTS: Record<string, { type: string; description: string }> = {
  'database/': { type: 'database', description: 'database credentials (PostgreSQL)' },
};
const ensureMountSchema = z.object({ mount: MOUNT });
