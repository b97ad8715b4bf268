// Last-writer-wins between two sites' copies of one user or group (docs/scim-sync.md): the later
// `meta.lastModified` wins; at the same millisecond a delete beats a live copy, and between two
// live copies the larger content digest wins, so both sites pick the same winner on their own.
import { createHash } from 'node:crypto';

/** One site's state of a resource: a live copy (its time and content digest) or a tombstone. */
export type SiteVersion = { kind: 'live'; at: number; digest: string } | { kind: 'dead'; at: number };

/** True when `a` strictly beats `b` (a missing side loses to anything). */
export function wins(a: SiteVersion | undefined, b: SiteVersion | undefined): boolean {
  if (!a) return false;
  if (!b) return true;
  if (a.at !== b.at) return a.at > b.at;
  if (a.kind !== b.kind) return a.kind === 'dead';
  return a.kind === 'live' && b.kind === 'live' && a.digest > b.digest;
}

/** JSON with object keys sorted, so equal content has one spelling whatever built it. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** SHA-256 of the canonical JSON of a resource's synced content (its identity key excluded). */
export const digestOf = (content: unknown) => createHash('sha256').update(canonical(content)).digest('hex');
