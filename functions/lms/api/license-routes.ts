// What products call: validate a key, activate / deactivate a machine, check in, check out a
// signed token; and what they fetch: the product's JWKS and signed revocation list.
import type { Context, Hono } from 'hono';
import type { z } from 'zod';
import { AppError, badRequest } from '#shared/http/errors';
import { jsonBody } from '#shared/http/validate';
import { isLicenseKey } from '../core/crypto.js';
import { validateKey } from '../core/licenses.js';
import { activateMachine, activateOffline, checkIn, checkOut, deactivateMachine } from '../core/machines.js';
import { productJwks, revocationList } from '../core/products.js';
import type { LmsRuntime } from '../core/runtime.js';
import type { AdminCheck } from './admin-auth.js';
import { activationRequest, checkInBody, checkOutBody, fingerprint, machineBody, offlineActivationBody, validateBody } from './bodies.js';
import { licenseFromHeader, requireAdmin, requireLicenseOrAdmin } from './credentials.js';
import { licenseJson, machineJson } from './json.js';
import { type LmsEnv, idParam } from './params.js';

/** A body that may be left out entirely (`{}` then). */
async function optionalBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  if ((await c.req.text()) === '') return schema.parse({});
  return jsonBody(c, schema);
}

export function mountLicenseRoutes(app: Hono<LmsEnv>, rt: LmsRuntime, check: AdminCheck): void {
  const tenantOf = (c: Context) => c.req.param('tenant')!;

  // Keygen's validate-key: the key is the credential (in the body, or as `License <key>`).
  app.post('/v1/licenses/validate', async (c) => {
    const body = await optionalBody(c, validateBody);
    const header = /^License (\S+)$/i.exec(c.req.header('authorization')?.trim() ?? '')?.[1];
    const key = body.key ?? header;
    if (key === undefined) throw badRequest('missing_key', 'Send the license key as "key" or as Authorization: License <key>.');
    if (!isLicenseKey(key)) throw badRequest('malformed_key', 'The license key is malformed.');
    const v = await validateKey(rt, tenantOf(c), key, { fingerprint: body.fingerprint, entitlements: body.entitlements });
    return c.json({ valid: v.valid, code: v.code, detail: v.detail, ...(v.license ? { license: licenseJson(v.license) } : {}) });
  });

  app.post('/v1/licenses/:id/machines', async (c) => {
    const id = idParam(c);
    const caller = await requireLicenseOrAdmin(c, rt, check, tenantOf(c), id);
    const machine = await activateMachine(rt, tenantOf(c), caller.kind === 'admin' ? caller.actor : null, id, await jsonBody(c, machineBody));
    return c.json(machineJson(machine), 201);
  });

  app.delete('/v1/licenses/:id/machines/:fingerprint', async (c) => {
    const id = idParam(c);
    const caller = await requireLicenseOrAdmin(c, rt, check, tenantOf(c), id);
    const fp = fingerprint.safeParse(c.req.param('fingerprint'));
    if (!fp.success) throw badRequest('malformed_fingerprint', 'The fingerprint is malformed.');
    await deactivateMachine(rt, tenantOf(c), caller.kind === 'admin' ? caller.actor : null, id, fp.data);
    return c.body(null, 204);
  });

  app.post('/v1/licenses/:id/check-in', async (c) => {
    const id = idParam(c);
    await requireLicenseOrAdmin(c, rt, check, tenantOf(c), id);
    const body = await optionalBody(c, checkInBody);
    return c.json(licenseJson(await checkIn(rt, tenantOf(c), id, body.fingerprint)));
  });

  app.post('/v1/licenses/:id/check-out', async (c) => {
    const id = idParam(c);
    await requireLicenseOrAdmin(c, rt, check, tenantOf(c), id);
    const body = await optionalBody(c, checkOutBody);
    const { token, claims } = await checkOut(rt, tenantOf(c), id, body);
    return c.json({ token, expiresAt: new Date(claims.exp * 1000).toISOString() }, 200, { 'cache-control': 'no-store' });
  });

  // Air-gapped activation: the machine's request file in, its machine file (the response file) out.
  app.post('/v1/licenses/:id/offline-activation', async (c) => {
    const id = idParam(c);
    const caller = await requireLicenseOrAdmin(c, rt, check, tenantOf(c), id);
    const body = await jsonBody(c, offlineActivationBody);
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body.request, 'base64url').toString('utf8'));
    } catch {
      throw badRequest('malformed_request_file', 'The request file is not base64url of JSON.');
    }
    const request = activationRequest.safeParse(parsed);
    if (!request.success) throw badRequest('malformed_request_file', 'The request file lacks a license id or a well-formed fingerprint.');
    if (request.data.license !== id) throw badRequest('request_file_mismatch', 'The request file is for another license.');
    const { token, machine } = await activateOffline(rt, tenantOf(c), caller.kind === 'admin' ? caller.actor : null, id, request.data, body.ttl);
    return c.json({ response: token, machine: machineJson(machine) }, 200, { 'cache-control': 'no-store' });
  });

  // The public keys: at the path the issue fixes, and under v1 beside the other product routes.
  const jwks = async (c: Context) => c.json(await productJwks(rt, tenantOf(c), idParam(c)), 200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=300' });
  app.get('/products/:id/jwks.json', jwks);
  app.get('/v1/products/:id/jwks.json', jwks);

  // The revocation list names license ids: for an admin, or the holder of a license of the product.
  app.get('/v1/products/:id/revocations', async (c) => {
    const id = idParam(c);
    const header = c.req.header('authorization');
    if (header && /^License /i.test(header.trim())) {
      const license = await licenseFromHeader(rt, tenantOf(c), header);
      if (license.productId !== id) throw new AppError(404, 'not_found', 'Not Found', { detail: 'No such product.' });
    } else {
      await requireAdmin(c, check, tenantOf(c));
    }
    return c.json({ token: await revocationList(rt, tenantOf(c), id) }, 200, { 'cache-control': 'no-store' });
  });
}
