// What an authorization_details object (RFC 9396) asks for, in words a user can judge on the
// consent page: its actions, locations, data types, identifier and privileges (the common fields
// of §2.2), amounts as money, and its other fields by name. Bounded: a client cannot make the
// page long or slow with a deep or huge object.
import type { AuthorizationDetail } from '../core/request-params.js';

/** One line of the consent page: a label and what it says. */
export interface DetailLine {
  readonly label: string;
  readonly value: string;
}

export interface DescribedDetail {
  readonly type: string;
  readonly lines: readonly DetailLine[];
}

const MAX_LINES = 20;
const MAX_VALUE = 200;
const MAX_LIST = 10;

/** RFC 9396 §2.2 common fields, in the order the page shows them. */
const COMMON: readonly (readonly [string, string])[] = [
  ['actions', 'Actions'],
  ['locations', 'At'],
  ['datatypes', 'Data'],
  ['identifier', 'Item'],
  ['privileges', 'Privileges'],
];

const clip = (s: string) => (s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s);

/** `instructedAmount` → `Instructed amount`; `creditor_account` → `Creditor account`. */
function words(key: string): string {
  const spaced = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return clip(spaced.charAt(0).toUpperCase() + spaced.slice(1));
}

/** "a, b and c" for a list of scalars (at most MAX_LIST shown). */
function list(items: readonly unknown[]): string | undefined {
  const shown = items.filter((i): i is string | number => typeof i === 'string' || typeof i === 'number').map(String);
  if (shown.length === 0) return undefined;
  const more = items.length > MAX_LIST ? [`${items.length - MAX_LIST + 1} more`] : [];
  const parts = [...shown.slice(0, more.length ? MAX_LIST - 1 : MAX_LIST), ...more];
  return clip(parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`);
}

/** `{amount: "123.50", currency: "EUR"}` as `€123.50`, or undefined when it is not money. */
function money(v: Record<string, unknown>): string | undefined {
  const amount = typeof v.amount === 'number' ? String(v.amount) : v.amount;
  const currency = v.currency;
  if (typeof amount !== 'string' || typeof currency !== 'string') return undefined;
  if (!/^-?\d{1,15}(\.\d{1,6})?$/.test(amount) || !/^[A-Z]{3}$/.test(currency)) return undefined;
  const decimals = amount.split('.')[1]?.length ?? 0;
  return new Intl.NumberFormat('en', { style: 'currency', currency, minimumFractionDigits: decimals, maximumFractionDigits: Math.max(decimals, 2) }).format(Number(amount));
}

/** A field's value in words; nested objects one level deep, field by field. */
function valueLines(label: string, v: unknown, depth: number): DetailLine[] {
  if (typeof v === 'string') return v ? [{ label, value: clip(v) }] : [];
  if (typeof v === 'number' && Number.isFinite(v)) return [{ label, value: String(v) }];
  if (typeof v === 'boolean') return [{ label, value: v ? 'yes' : 'no' }];
  if (Array.isArray(v)) {
    const value = list(v);
    return value ? [{ label, value }] : [];
  }
  if (v && typeof v === 'object') {
    const m = money(v as Record<string, unknown>);
    if (m) return [{ label, value: m }];
    if (depth > 0) return [];
    return Object.entries(v as Record<string, unknown>).flatMap(([k, inner]) => valueLines(`${label}, ${words(k).toLowerCase()}`, inner, depth + 1));
  }
  return [];
}

/** The lines of one detail, common fields first, then the others in the order the client sent them. */
export function describeAuthorizationDetail(detail: AuthorizationDetail): DescribedDetail {
  const lines: DetailLine[] = [];
  for (const [key, label] of COMMON) lines.push(...valueLines(label, detail[key], 0));
  const common = new Set(['type', ...COMMON.map(([k]) => k)]);
  for (const [key, v] of Object.entries(detail)) {
    if (!common.has(key)) lines.push(...valueLines(words(key), v, 0));
  }
  const shown = lines.length > MAX_LINES ? [...lines.slice(0, MAX_LINES - 1), { label: 'And', value: `${lines.length - MAX_LINES + 1} more fields` }] : lines;
  return { type: clip(detail.type), lines: shown };
}
