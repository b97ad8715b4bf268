// Mailboxes as the send API takes them (RFC 5322 §3.4): `local@domain`, `Name <local@domain>` or
// `"Quoted, Name" <local@domain>`. A strict subset: no comments, no groups, no domain literals,
// no obsolete syntax; anything else is refused rather than guessed at.
// @see https://www.rfc-editor.org/rfc/rfc5322#section-3.4

/** A parsed mailbox; `address` is what goes on the SMTP envelope. */
export interface Mailbox {
  name?: string;
  address: string;
}

// RFC 5322 §3.2.3 atext, and dot-atom = 1*atext *("." 1*atext).
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
// A host name of LDH labels (RFC 1035 §2.3.1, RFC 5321 §4.1.2 Domain), at least two labels.
const DOMAIN = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
// A phrase of atoms and spaces, or one quoted string without backslash or quote inside.
const PHRASE = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-. \u0080-\uFFFF]+$/;
const QUOTED = /^"([^"\\\p{Cc}]*)"$/u;
// RFC 5321 §4.5.3.1: local part at most 64 octets, a path at most 256.
const MAX_LOCAL = 64;
const MAX_ADDRESS = 254;

/** True when the text holds CR, LF or another control character: a header injection attempt. */
export const hasControlChars = (s: string) => /\p{Cc}/u.test(s.replace(/\t/g, ''));

/** Parses an addr-spec; undefined when it is not one. */
export function parseAddress(text: string): string | undefined {
  if (text.length > MAX_ADDRESS) return undefined;
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (local.length > MAX_LOCAL || !DOT_ATOM.test(local) || !DOMAIN.test(domain)) return undefined;
  return `${local}@${domain.toLowerCase()}`;
}

/** Parses one mailbox; undefined when it is not one. */
export function parseMailbox(text: string): Mailbox | undefined {
  const s = text.trim();
  if (hasControlChars(s)) return undefined;
  const angle = /^(.*?)\s*<([^<>]+)>$/.exec(s);
  if (!angle) {
    const address = parseAddress(s);
    return address ? { address } : undefined;
  }
  const address = parseAddress(angle[2]!.trim());
  if (!address) return undefined;
  const rawName = angle[1]!.trim();
  if (rawName === '') return { address };
  const quoted = QUOTED.exec(rawName);
  const name = quoted ? quoted[1]! : PHRASE.test(rawName) ? rawName : undefined;
  if (name === undefined || name.length > 200) return undefined;
  return { name, address };
}

/** The domain of an address, lower-cased. */
export const domainOf = (address: string) => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/** The lookup form of an address for the blind index. */
export const normalizeAddress = (address: string) => address.toLowerCase();
