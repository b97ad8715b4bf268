// Who is calling: an admin (a ZenoAuth Bearer token of the tenant, ./admin-auth.ts) or a license
// holder (`Authorization: License <key>`, as Keygen's license-key authentication).
// @see https://keygen.sh/docs/api/authentication/#license-authentication
import type { Context } from 'hono';
import { AppError } from '#shared/http/errors';
import { digestsEqual, isLicenseKey } from '../core/crypto.js';
import { licenseByKey } from '../core/licenses.js';
import type { Actor, LmsRuntime } from '../core/runtime.js';
import type { License } from '../core/schema.js';
import type { AdminCheck } from './admin-auth.js';

type Caller = { kind: 'admin'; actor: Actor } | { kind: 'license'; license: License };

const unauthorized = (code: string, detail: string) =>
  new AppError(401, code, 'Unauthorized', { detail, headers: { 'www-authenticate': 'License realm="zenokube-lms", Bearer realm="zenokube-lms"' } });

/** The request's source and id, for the audit trail. */
export function actorOf(c: Context, sub: string | null): Actor {
  return { sub, ip: (c.get('clientAddress' as never) as string | undefined) ?? undefined, requestId: (c.get('requestId' as never) as string | undefined) ?? c.req.header('x-request-id') };
}

export async function requireAdmin(c: Context, check: AdminCheck, tenant: string): Promise<Actor> {
  const { sub } = await check(tenant, c.req.header('authorization'));
  return actorOf(c, sub);
}

/** The license a `License <key>` header opens in `tenant`; 401 for a missing, malformed or unknown key. */
export async function licenseFromHeader(rt: LmsRuntime, tenant: string, header: string | undefined): Promise<License> {
  const m = header ? /^License (\S+)$/i.exec(header.trim()) : null;
  if (!m) throw unauthorized('invalid_license_key', 'Send the license key as Authorization: License <key>.');
  if (!isLicenseKey(m[1])) throw unauthorized('invalid_license_key', 'The license key is malformed.');
  const license = await licenseByKey(rt, tenant, m[1]);
  if (!license || !digestsEqual(license.keyHash, rt.hashKey(m[1]))) throw unauthorized('invalid_license_key', 'No license has that key.');
  return license;
}

/** An admin, or the holder of this very license's key. */
export async function requireLicenseOrAdmin(c: Context, rt: LmsRuntime, check: AdminCheck, tenant: string, licenseId: string): Promise<Caller> {
  const header = c.req.header('authorization');
  if (header && /^Bearer /i.test(header.trim())) return { kind: 'admin', actor: await requireAdmin(c, check, tenant) };
  const license = await licenseFromHeader(rt, tenant, header);
  // Another license's key is no credential for this one: answered as for an unknown license.
  if (license.id !== licenseId) throw new AppError(404, 'not_found', 'Not Found', { detail: 'No such license.' });
  return { kind: 'license', license };
}
