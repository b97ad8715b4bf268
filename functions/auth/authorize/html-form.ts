// Reading the parameters of browser requests: query for GET, form body for POST.
import type { Context } from 'hono';
import { hasNul } from '../web/request.js';
import { AuthorizePageError } from './responses.js';

export async function browserParams(c: Context): Promise<URLSearchParams> {
  let params: URLSearchParams;
  if (c.req.method === 'GET') params = new URL(c.req.url).searchParams;
  else {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') throw new AuthorizePageError(415, 'unsupported_media_type', 'This form was not sent the way a browser sends it.');
    params = new URLSearchParams(await c.req.text());
  }
  if (hasNul(params)) throw new AuthorizePageError(400, 'invalid_request', 'The request contains characters that are not allowed.');
  return params;
}
