// Products: created with their first signing key; key rotation; the public JWKS; the signed
// revocation list of the product's revoked licenses.
import { randomUUID } from 'node:crypto';
import { and, asc, eq } from 'drizzle-orm';
import { recordAudit } from './audit.js';
import { conflict, notFound } from './errors.js';
import type { Actor, LmsRuntime } from './runtime.js';
import { licenses, policies, products, type Product } from './schema.js';
import { signRevocationList } from './sign.js';

const pgCode = (err: unknown) => (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
const isUniqueViolation = (err: unknown) => pgCode(err) === '23505';
/** A row it refers to was deleted by a concurrent transaction after it was read. */
const isForeignKeyViolation = (err: unknown) => pgCode(err) === '23503';

export async function createProduct(rt: LmsRuntime, tenant: string, actor: Actor, input: { name: string }): Promise<Product & { kid: string }> {
  try {
    return await rt.database.transaction(async (tx) => {
      const [product] = await tx.insert(products).values({ tenant, name: input.name }).returning();
      const { kid } = await rt.keys.rotate(tx, tenant, product!.id);
      await recordAudit(tx, tenant, actor, { action: 'product.create', target: product!.id, detail: { name: input.name, kid } });
      return { ...product!, kid };
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('product_exists', 'A product of that name exists.');
    throw err;
  }
}

export async function getProduct(rt: LmsRuntime, tenant: string, id: string): Promise<Product> {
  const [row] = await rt.database.db.select().from(products).where(and(eq(products.tenant, tenant), eq(products.id, id)));
  if (!row) throw notFound('product');
  return row;
}

export async function listProducts(rt: LmsRuntime, tenant: string): Promise<Product[]> {
  return rt.database.db.select().from(products).where(eq(products.tenant, tenant)).orderBy(asc(products.createdAt)).limit(1000);
}

/** Renames the product (its id, the tokens' `aud`, stays). */
export async function updateProduct(rt: LmsRuntime, tenant: string, actor: Actor, id: string, input: { name: string }): Promise<Product> {
  try {
    return await rt.database.transaction(async (tx) => {
      const [row] = await tx.update(products).set({ name: input.name }).where(and(eq(products.tenant, tenant), eq(products.id, id))).returning();
      if (!row) throw notFound('product');
      await recordAudit(tx, tenant, actor, { action: 'product.update', target: id, detail: { name: input.name } });
      return row;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw conflict('product_exists', 'A product of that name exists.');
    throw err;
  }
}

/** Deletes a product no policy or license uses any more; its signing keys go with it. */
export async function deleteProduct(rt: LmsRuntime, tenant: string, actor: Actor, id: string): Promise<void> {
  await rt.database.transaction(async (tx) => {
    // The lock queues a concurrent policy or license being created for the product behind us.
    const [row] = await tx.select().from(products).where(and(eq(products.tenant, tenant), eq(products.id, id))).for('update');
    if (!row) throw notFound('product');
    const [policy] = await tx.select({ id: policies.id }).from(policies).where(and(eq(policies.tenant, tenant), eq(policies.productId, id))).limit(1);
    const [license] = await tx.select({ id: licenses.id }).from(licenses).where(and(eq(licenses.tenant, tenant), eq(licenses.productId, id))).limit(1);
    if (policy || license) throw conflict('product_in_use', 'Policies or licenses use the product: delete them first.');
    await tx.delete(products).where(and(eq(products.tenant, tenant), eq(products.id, id)));
    await recordAudit(tx, tenant, actor, { action: 'product.delete', target: id, detail: { name: row.name } });
  });
}

/** Retires the product's key and makes a new one: new tokens use it, old ones keep verifying. */
export async function rotateProductKey(rt: LmsRuntime, tenant: string, actor: Actor, id: string) {
  return rt.database.transaction(async (tx) => {
    const [row] = await tx.select().from(products).where(and(eq(products.tenant, tenant), eq(products.id, id))).for('update');
    if (!row) throw notFound('product');
    const result = await rt.keys.rotate(tx, tenant, id);
    await recordAudit(tx, tenant, actor, { action: 'product.rotate-key', target: id, detail: result });
    return result;
  });
}

export async function productJwks(rt: LmsRuntime, tenant: string, id: string) {
  await getProduct(rt, tenant, id);
  return rt.keys.jwks(rt.database.db, tenant, id);
}

/** The signed list of the product's revoked licenses, for products that cannot call home. */
export async function revocationList(rt: LmsRuntime, tenant: string, id: string): Promise<string> {
  await getProduct(rt, tenant, id);
  const signer = await rt.keys.signer(rt.database.db, tenant, id);
  if (!signer) throw notFound('signing key');
  const revoked = await rt.database.db
    .select({ id: licenses.id })
    .from(licenses)
    .where(and(eq(licenses.tenant, tenant), eq(licenses.productId, id), eq(licenses.status, 'revoked')))
    .orderBy(asc(licenses.id));
  const iat = Math.floor(rt.now().getTime() / 1000);
  return signRevocationList(signer, { iss: rt.issuer(tenant), aud: id, iat, jti: randomUUID(), revoked: revoked.map((r) => r.id) });
}

export { isForeignKeyViolation, isUniqueViolation };
