// Request bodies of the admin API.
import { z } from 'zod';
import { AppError } from '#shared/http/errors';
import { MAX_PASSWORD_BYTES } from '../core/passwords.js';

const password = z
  .string()
  .min(8, 'at least 8 characters')
  .refine((p) => Buffer.byteLength(p) <= MAX_PASSWORD_BYTES, `at most ${MAX_PASSWORD_BYTES} bytes`);

export const tenantBody = z.object({
  slug: z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits and dashes'),
  displayName: z.string().min(1).max(200).optional(),
});

export const userBody = z.object({
  username: z.string().min(1).max(256).regex(/^[^\s]+$/, 'no spaces'),
  password: password.optional(),
  email: z.email().max(320).optional(),
  emailVerified: z.boolean().optional(),
  name: z.string().max(200).optional(),
  givenName: z.string().max(200).optional(),
  familyName: z.string().max(200).optional(),
  externalId: z.string().max(256).optional(),
  active: z.boolean().optional(),
});

export const userPatch = z.object({
  password: password.optional(),
  active: z.boolean().optional(),
  name: z.string().max(200).optional(),
  email: z.email().max(320).optional(),
  emailVerified: z.boolean().optional(),
});

/** `?limit=` (1-1000, default 100) and `?after=` (the previous page's `next`) of a list. */
export function pageQuery(limit: string | undefined, after: string | undefined): { limit: number; after: string | undefined } {
  const n = limit === undefined ? 100 : /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
  if (!(n >= 1 && n <= 1000)) throw new AppError(400, 'invalid_page', 'Bad Request', { detail: 'limit must be an integer from 1 to 1000.' });
  if (after !== undefined && (after.length === 0 || after.length > 256)) throw new AppError(400, 'invalid_page', 'Bad Request', { detail: 'after is malformed.' });
  return { limit: n, after };
}
