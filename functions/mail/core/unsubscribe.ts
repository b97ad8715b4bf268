// RFC 8058 one-click unsubscribe: a URL per (tenant, recipient) whose token is a MAC over the
// recipient's blind index, so the link names no address and cannot be forged for another one.
// @see https://www.rfc-editor.org/rfc/rfc8058#section-3.1
import { timingSafeEqual } from 'node:crypto';
import { blindIndex, type MailKeys } from './keys.js';

/** The token of the unsubscribe URL: `<address index>.<mac>`. */
export function unsubscribeToken(keys: MailKeys, tenant: string, addressIndex: string): string {
  return `${addressIndex}.${blindIndex(keys, 'unsubscribe', `${tenant}\0${addressIndex}`)}`;
}

/** The address index a token stands for, or undefined when its MAC does not verify. */
export function verifyUnsubscribeToken(keys: MailKeys, tenant: string, token: string): string | undefined {
  const m = /^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return undefined;
  const expected = Buffer.from(blindIndex(keys, 'unsubscribe', `${tenant}\0${m[1]}`));
  const given = Buffer.from(m[2]!);
  return expected.length === given.length && timingSafeEqual(expected, given) ? m[1] : undefined;
}
