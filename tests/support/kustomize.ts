// Builds a kustomization the way `kustomize build` does, for the subset of kustomize our overlays
// use: `resources` (files and directories holding a kustomization.yaml), `namespace`, `images`
// (newName/newTag on every container image), and `patches` that are RFC 6902 JSON patches read from
// `path` and applied to the objects their `target` selects (group, version, kind, name,
// labelSelector with `k=v` terms). Any other field fails, so an overlay cannot use a feature this
// build would silently skip. Test code: the deployment itself uses kustomize (kubectl apply -k).
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { applyJsonPatch, type JsonPatchOperation } from './json-patch.js';

export type K8sObject = Record<string, any>;

const KNOWN_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'images', 'patches']);
/**
 * Built-in kinds without a namespace, which the `namespace` field leaves alone. Like kustomize, a
 * custom kind (GatewayClass too) counts as namespaced; the API server drops the field on those.
 */
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

interface Target {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  labelSelector?: string;
}

function selects(t: Target, obj: K8sObject): boolean {
  const [group, version] = String(obj.apiVersion).includes('/') ? String(obj.apiVersion).split('/') : ['', String(obj.apiVersion)];
  if (t.group !== undefined && t.group !== group) return false;
  if (t.version !== undefined && t.version !== version) return false;
  if (t.kind !== undefined && t.kind !== obj.kind) return false;
  if (t.name !== undefined && t.name !== obj.metadata?.name) return false;
  for (const term of t.labelSelector ? t.labelSelector.split(',') : []) {
    const [k, v] = term.split('=');
    if (obj.metadata?.labels?.[k!.trim()] !== v?.trim()) return false;
  }
  return true;
}

/** `repo/name:tag` or `repo/name@sha256:…` → [name, tag or digest suffix]. */
function splitImage(image: string): [string, string] {
  const at = image.indexOf('@');
  if (at >= 0) return [image.slice(0, at), image.slice(at)];
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? [image.slice(0, colon), image.slice(colon)] : [image, ''];
}

function rewriteImages(node: unknown, images: { name: string; newName?: string; newTag?: string }[]): void {
  if (Array.isArray(node)) return node.forEach((n) => rewriteImages(n, images));
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if ((k === 'containers' || k === 'initContainers') && Array.isArray(v)) {
      for (const c of v as { image?: string }[]) {
        if (typeof c.image !== 'string') continue;
        const [name, suffix] = splitImage(c.image);
        const rule = images.find((i) => i.name === name);
        if (rule) c.image = `${rule.newName ?? name}${rule.newTag !== undefined ? `:${rule.newTag}` : suffix}`;
      }
    }
    rewriteImages(v, images);
  }
}

/** The objects `kustomize build dir` would print (in resource order). */
export function buildKustomization(dir: string): K8sObject[] {
  const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Record<string, any>;
  const unknown = Object.keys(k).filter((f) => !KNOWN_FIELDS.has(f));
  if (unknown.length) throw new Error(`${dir}/kustomization.yaml: unsupported fields ${unknown.join(', ')}`);
  if (k.kind !== 'Kustomization') throw new Error(`${dir}/kustomization.yaml: kind is ${k.kind}`);
  const objects: K8sObject[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const p = join(dir, r);
    if (statSync(p).isDirectory()) objects.push(...buildKustomization(p));
    else objects.push(...parseAllDocuments(readFileSync(p, 'utf8')).map((d) => d.toJS() as K8sObject));
  }
  if (k.namespace) for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata = { ...o.metadata, namespace: k.namespace };
  if (k.images) rewriteImages(objects, k.images);
  for (const patch of (k.patches ?? []) as { path?: string; target?: Target }[]) {
    if (!patch.path || !patch.target) throw new Error(`${dir}: only JSON patches from a file with a target are supported`);
    const ops = parse(readFileSync(join(dir, patch.path), 'utf8')) as JsonPatchOperation[];
    if (!Array.isArray(ops)) throw new Error(`${dir}/${patch.path}: not an RFC 6902 operation list`);
    const hits = objects.filter((o) => selects(patch.target!, o));
    if (hits.length === 0) throw new Error(`${dir}/${patch.path}: its target selects no object`);
    for (const o of hits) {
      try {
        applyJsonPatch(o, ops);
      } catch (err) {
        throw new Error(`${dir}/${patch.path} on ${o.kind}/${o.metadata?.name}: ${(err as Error).message}`);
      }
    }
  }
  return objects;
}

