// What an ApiServerSource event names: a RemoteSecret (its spec or status changed, or it was
// deleted), or a Secret the operator wrote (someone changed or deleted it: write it again). Only a
// hint: the resource is read again before anything is done.
// @see https://knative.dev/docs/eventing/sources/apiserversource/reference/
import type { Cause } from './sync-rule.js';
import { MANAGED_LABEL } from './resource.js';

type Hint = { namespace: string; name: string; cause: Cause } | { ignored: string };

const DNS = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The resource an event's data (resource mode: the object; reference mode: kind, namespace, name) points at. */
export function hintOf(data: unknown): Hint | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const d = data as { kind?: unknown; name?: unknown; namespace?: unknown; metadata?: { name?: unknown; namespace?: unknown; labels?: Record<string, unknown> } };
  const name = d.metadata?.name ?? d.name;
  const namespace = d.metadata?.namespace ?? d.namespace;
  if (typeof d.kind !== 'string' || typeof name !== 'string' || typeof namespace !== 'string' || !DNS.test(name) || !DNS.test(namespace)) return undefined;
  if (d.kind === 'RemoteSecret') return { namespace, name, cause: 'resource' };
  if (d.kind !== 'Secret') return { ignored: `${d.kind} is not watched` };
  const owner = d.metadata?.labels?.[MANAGED_LABEL];
  if (typeof owner !== 'string' || !DNS.test(owner)) return { ignored: `Secret ${name} is not written by a RemoteSecret` };
  return { namespace, name: owner, cause: 'secret' };
}
