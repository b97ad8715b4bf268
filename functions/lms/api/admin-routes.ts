// Admin routes: products (with key rotation), policies, entitlements, licenses and their
// transitions. Every route checks the tenant's admin token before reading its input.
import type { Context, Hono } from 'hono';
import { AppError } from '#shared/http/errors';
import { jsonBody } from '#shared/http/validate';
import { recordAudit } from '../core/audit.js';
import { deleteLicense, getLicense, issueLicense, listLicenses, machinesOf, transitionLicense, updateLicense } from '../core/licenses.js';
import {
  createEntitlement, createPolicy, deleteEntitlement, deletePolicy, getEntitlement, getPolicy, listEntitlements, listPolicies, updateEntitlement, updatePolicy,
} from '../core/policies.js';
import { createProduct, deleteProduct, getProduct, listProducts, rotateProductKey, updateProduct } from '../core/products.js';
import type { LmsRuntime } from '../core/runtime.js';
import type { Entitlement } from '../core/schema.js';
import type { AdminCheck } from './admin-auth.js';
import { entitlementBody, entitlementPatch, isEntitlementRef, licenseBody, licensePatch, policyBody, policyPatch, productBody, productPatch } from './bodies.js';
import { actorOf, requireAdmin } from './credentials.js';
import { licenseJson, machineJson, policyJson, productJson } from './json.js';
import { type LmsEnv, idParam } from './params.js';

const entitlementJson = (e: Entitlement) => ({ id: e.id, code: e.code, name: e.name, limit: e.limit });

/** The `:ref` of an entitlement route: an id or a code; anything else names no entitlement. */
function entitlementRef(c: Context): string {
  const ref = c.req.param('ref') ?? '';
  if (!isEntitlementRef(ref)) throw new AppError(404, 'not_found', 'Not Found', { detail: 'No such entitlement.' });
  return ref;
}

export function mountAdminRoutes(app: Hono<LmsEnv>, rt: LmsRuntime, check: AdminCheck): void {
  /**
   * The admin, or a 401/403. A 403 (a genuine token of the tenant, without the scope) leaves an
   * audit row of the refused attempt; a 401 does not, or anyone on the network could write rows.
   */
  const admin = async (c: Context) => {
    const tenant = c.req.param('tenant')!;
    try {
      return await requireAdmin(c, check, tenant);
    } catch (err) {
      if (err instanceof AppError && err.status === 403) {
        await recordAudit(rt.database.db, tenant, actorOf(c, null), {
          action: 'admin.refused', outcome: 'failure', detail: { method: c.req.method, route: c.req.routePath, status: err.status, code: err.code },
        });
      }
      throw err;
    }
  };

  app.post('/v1/products', async (c) => {
    const actor = await admin(c);
    const p = await createProduct(rt, c.req.param('tenant')!, actor, await jsonBody(c, productBody));
    return c.json({ ...productJson(p), kid: p.kid }, 201);
  });
  app.get('/v1/products', async (c) => {
    await admin(c);
    return c.json({ items: (await listProducts(rt, c.req.param('tenant')!)).map(productJson) });
  });
  app.get('/v1/products/:id', async (c) => {
    await admin(c);
    return c.json(productJson(await getProduct(rt, c.req.param('tenant')!, idParam(c))));
  });
  app.patch('/v1/products/:id', async (c) => {
    const actor = await admin(c);
    const id = idParam(c);
    return c.json(productJson(await updateProduct(rt, c.req.param('tenant')!, actor, id, await jsonBody(c, productPatch))));
  });
  app.delete('/v1/products/:id', async (c) => {
    const actor = await admin(c);
    await deleteProduct(rt, c.req.param('tenant')!, actor, idParam(c));
    return c.body(null, 204);
  });
  app.post('/v1/products/:id/rotate-key', async (c) => {
    const actor = await admin(c);
    return c.json(await rotateProductKey(rt, c.req.param('tenant')!, actor, idParam(c)));
  });

  app.post('/v1/policies', async (c) => {
    const actor = await admin(c);
    return c.json(policyJson(await createPolicy(rt, c.req.param('tenant')!, actor, await jsonBody(c, policyBody))), 201);
  });
  app.get('/v1/policies', async (c) => {
    await admin(c);
    return c.json({ items: (await listPolicies(rt, c.req.param('tenant')!)).map(policyJson) });
  });
  app.get('/v1/policies/:id', async (c) => {
    await admin(c);
    return c.json(policyJson(await getPolicy(rt.database.db, c.req.param('tenant')!, idParam(c))));
  });
  app.patch('/v1/policies/:id', async (c) => {
    const actor = await admin(c);
    const id = idParam(c);
    return c.json(policyJson(await updatePolicy(rt, c.req.param('tenant')!, actor, id, await jsonBody(c, policyPatch))));
  });
  app.delete('/v1/policies/:id', async (c) => {
    const actor = await admin(c);
    await deletePolicy(rt, c.req.param('tenant')!, actor, idParam(c));
    return c.body(null, 204);
  });

  app.post('/v1/entitlements', async (c) => {
    const actor = await admin(c);
    const e = await createEntitlement(rt, c.req.param('tenant')!, actor, await jsonBody(c, entitlementBody));
    return c.json(entitlementJson(e), 201);
  });
  app.get('/v1/entitlements', async (c) => {
    await admin(c);
    return c.json({ items: (await listEntitlements(rt, c.req.param('tenant')!)).map(entitlementJson) });
  });
  app.get('/v1/entitlements/:ref', async (c) => {
    await admin(c);
    return c.json(entitlementJson(await getEntitlement(rt.database.db, c.req.param('tenant')!, entitlementRef(c))));
  });
  app.patch('/v1/entitlements/:ref', async (c) => {
    const actor = await admin(c);
    const ref = entitlementRef(c);
    return c.json(entitlementJson(await updateEntitlement(rt, c.req.param('tenant')!, actor, ref, await jsonBody(c, entitlementPatch))));
  });
  app.delete('/v1/entitlements/:ref', async (c) => {
    const actor = await admin(c);
    await deleteEntitlement(rt, c.req.param('tenant')!, actor, entitlementRef(c));
    return c.body(null, 204);
  });

  app.post('/v1/licenses', async (c) => {
    const actor = await admin(c);
    const { license, key } = await issueLicense(rt, c.req.param('tenant')!, actor, await jsonBody(c, licenseBody));
    // The key is answered this once: only its hash is stored.
    return c.json({ ...licenseJson(license), key }, 201, { 'cache-control': 'no-store' });
  });
  app.get('/v1/licenses', async (c) => {
    await admin(c);
    return c.json({ items: (await listLicenses(rt, c.req.param('tenant')!)).map(licenseJson) });
  });
  app.get('/v1/licenses/:id', async (c) => {
    await admin(c);
    const tenant = c.req.param('tenant')!;
    const license = await getLicense(rt.database.db, tenant, idParam(c));
    return c.json({ ...licenseJson(license), machines: (await machinesOf(rt.database.db, tenant, license.id)).map(machineJson) });
  });
  app.patch('/v1/licenses/:id', async (c) => {
    const actor = await admin(c);
    const id = idParam(c);
    return c.json(licenseJson(await updateLicense(rt, c.req.param('tenant')!, actor, id, await jsonBody(c, licensePatch))));
  });
  app.delete('/v1/licenses/:id', async (c) => {
    const actor = await admin(c);
    await deleteLicense(rt, c.req.param('tenant')!, actor, idParam(c));
    return c.body(null, 204);
  });
  for (const action of ['suspend', 'reinstate', 'renew', 'revoke'] as const) {
    app.post(`/v1/licenses/:id/${action}`, async (c) => {
      const actor = await admin(c);
      return c.json(licenseJson(await transitionLicense(rt, c.req.param('tenant')!, actor, idParam(c), action)));
    });
  }
}
