// Reading the parameters of browser requests: query for GET, form body for POST.
import type { Context } from 'hono';
import { AuthorizePageError } from './responses.js';

export async function browserParams(c: Context): Promise<URLSearchParams> {
  if (c.req.method === 'GET') return new URL(c.req.url).searchParams;
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') throw new AuthorizePageError(415, 'unsupported_media_type', 'This form was not sent the way a browser sends it.');
  return new URLSearchParams(await c.req.text());
}
