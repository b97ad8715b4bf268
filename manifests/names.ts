// Object names and labels of generated manifests: DNS labels, shortened with a hash when too long.
import { createHash } from 'node:crypto';
import type { FunctionDeclaration } from '#shared/function/define';

/** RFC 1123 label: what Kubernetes requires of Service names and what Knative derives names from. */
export const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Joins parts into one DNS label. Names over 63 characters keep a readable head and end in
 * 8 hex characters of their SHA-256, so that distinct inputs stay distinct.
 */
export function childName(...parts: string[]): string {
  const full = parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-|-$/g, '');
  if (full.length <= 63) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

/** `io.zenokube.auth.group.membership-changed` → `auth-group-membership-changed`. */
export function eventSlug(type: string): string {
  return type.replace(/^io\.zenokube\./, '').replace(/\./g, '-');
}

/** The recommended labels (app.kubernetes.io/*) every object of a function carries. */
export function functionLabels(decl: FunctionDeclaration, version: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': decl.name,
    'app.kubernetes.io/component': decl.product,
    'app.kubernetes.io/part-of': 'zenokube',
    'app.kubernetes.io/version': version,
    'app.kubernetes.io/managed-by': 'zenokube-manifests',
  };
}

/** Labels of the platform's own objects (Broker, migration Job, database). */
export function platformLabels(component: string, version: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': `zenokube-${component}`,
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'zenokube',
    'app.kubernetes.io/version': version,
    'app.kubernetes.io/managed-by': 'zenokube-manifests',
  };
}
