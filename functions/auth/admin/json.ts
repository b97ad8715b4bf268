// Admin request bodies: parsed, validated, and refused when a string holds U+0000.
import type { Context } from 'hono';
import type { z } from 'zod';
import { badRequest } from '#shared/http/errors';
import { jsonBody } from '#shared/http/validate';
import { hasNul } from '../web/request.js';

export async function adminBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const body = await jsonBody(c, schema);
  if (hasNul(body)) throw badRequest('nul_character', 'A string in the body contains a NUL character.');
  return body;
}
