// What an ApiServerSource CloudEvent names: the ZenoScope or ZenoApp itself, or an object we made
// for one (found by its owner or sharer label). The event is only a hint: the object is read again.
// @see https://knative.dev/docs/eventing/sources/apiserversource/reference/
import { OWNER_LABEL, SHARER_PREFIX } from '#functions/scope/core/names';
import type { Target } from './reconciler.js';

type Hint = { target: Target } | { ownerUids: string[] } | { ignored: string };

const DNS = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * Resource mode carries the object (`dev.knative.apiserver.resource.*`), reference mode its
 * kind, namespace and name (`dev.knative.apiserver.ref.*`); both are read here.
 */
export function hintOf(data: unknown): Hint | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const d = data as { kind?: unknown; name?: unknown; namespace?: unknown; metadata?: { name?: unknown; namespace?: unknown; labels?: Record<string, unknown> } };
  const kind = d.kind;
  const name = d.metadata?.name ?? d.name;
  const namespace = d.metadata?.namespace ?? d.namespace;
  if (typeof kind !== 'string' || typeof name !== 'string' || !DNS.test(name)) return undefined;
  if (namespace !== undefined && (typeof namespace !== 'string' || !DNS.test(namespace))) return undefined;
  if (kind === 'ZenoScope') return { target: { kind, name } };
  if (kind === 'ZenoApp') return typeof namespace === 'string' ? { target: { kind, namespace, name } } : undefined;
  const labels = d.metadata?.labels ?? {};
  const uids = [
    ...(typeof labels[OWNER_LABEL] === 'string' ? [labels[OWNER_LABEL]] : []),
    ...Object.keys(labels).filter((k) => k.startsWith(SHARER_PREFIX)).map((k) => k.slice(SHARER_PREFIX.length)),
  ];
  return uids.length > 0 ? { ownerUids: [...new Set(uids)] } : { ignored: `${kind} ${name} is not ours` };
}
