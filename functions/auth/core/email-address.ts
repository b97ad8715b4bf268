// The e-mail addresses a user may give at sign-up or change: a plain `local@domain` of at most
// 254 octets (RFC 5321 §4.5.3.1), a dotted DNS domain, no quoting, comments or display name.
const LOCAL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}$/;
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** The address with its domain lower-cased, or undefined when it is not one we accept. */
export function parseEmailAddress(input: string): string | undefined {
  const value = input.trim();
  if (value.length > 254) return undefined;
  const at = value.lastIndexOf('@');
  if (at < 1) return undefined;
  const local = value.slice(0, at);
  const labels = value.slice(at + 1).split('.');
  if (!LOCAL.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return undefined;
  return `${local}@${labels.join('.').toLowerCase()}`;
}
