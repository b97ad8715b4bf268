// Admin routes: products (with key rotation), policies, entitlements, licenses and their
// transitions. Every route checks the tenant's admin token before reading its input.
import type { Hono } from 'hono';
import { jsonBody } from '#shared/http/validate';
import { getLicense, issueLicense, listLicenses, machinesOf, transitionLicense } from '../core/licenses.js';
import { createEntitlement, createPolicy, deletePolicy, getPolicy, listEntitlements, listPolicies } from '../core/policies.js';
import { createProduct, getProduct, listProducts, rotateProductKey } from '../core/products.js';
import type { LmsRuntime } from '../core/runtime.js';
import type { AdminCheck } from './admin-auth.js';
import { entitlementBody, licenseBody, policyBody, productBody } from './bodies.js';
import { requireAdmin } from './credentials.js';
import { licenseJson, machineJson, policyJson, productJson } from './json.js';
import { type LmsEnv, idParam } from './params.js';

export function mountAdminRoutes(app: Hono<LmsEnv>, rt: LmsRuntime, check: AdminCheck): void {
  const admin = (c: Parameters<typeof requireAdmin>[0]) => requireAdmin(c, check, c.req.param('tenant')!);

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
  app.delete('/v1/policies/:id', async (c) => {
    const actor = await admin(c);
    await deletePolicy(rt, c.req.param('tenant')!, actor, idParam(c));
    return c.body(null, 204);
  });

  app.post('/v1/entitlements', async (c) => {
    const actor = await admin(c);
    const e = await createEntitlement(rt, c.req.param('tenant')!, actor, await jsonBody(c, entitlementBody));
    return c.json({ id: e.id, code: e.code, name: e.name, limit: e.limit }, 201);
  });
  app.get('/v1/entitlements', async (c) => {
    await admin(c);
    return c.json({ items: (await listEntitlements(rt, c.req.param('tenant')!)).map((e) => ({ id: e.id, code: e.code, name: e.name, limit: e.limit })) });
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
  for (const action of ['suspend', 'reinstate', 'renew', 'revoke'] as const) {
    app.post(`/v1/licenses/:id/${action}`, async (c) => {
      const actor = await admin(c);
      return c.json(licenseJson(await transitionLicense(rt, c.req.param('tenant')!, actor, idParam(c), action)));
    });
  }
}
