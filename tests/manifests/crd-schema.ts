// Validates manifests against the vendored upstream CRDs (tests/schemas/) with ajv: each CRD
// version's openAPIV3Schema, made strict where the API server would silently prune.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

type Schema = Record<string, unknown>;

/**
 * Rewrites a structural schema for ajv:
 * - `x-kubernetes-int-or-string` becomes `anyOf [integer, string]`;
 * - an object that lists `properties` and does not preserve unknown fields rejects other keys.
 *   The API server would prune such a field without a word; a manifest holding one has a typo.
 * - other `x-kubernetes-*` extensions (CEL rules, list types) are dropped: ajv cannot run them;
 * - a Go (RE2) `pattern` with an inline `(?i)` flag, which JavaScript lacks, spells each letter in both cases.
 */
function strictSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSchema);
  if (node === null || typeof node !== 'object') return node;
  const src = node as Schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(src)) {
    if (k.startsWith('x-kubernetes-')) continue;
    // Under `properties` the keys are field names, not keywords: recurse into each value.
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, strictSchema(s)]));
    else if (k === 'pattern' && typeof v === 'string' && v.includes('(?i)')) out[k] = caseInsensitive(v);
    else out[k] = strictSchema(v);
  }
  if (src['x-kubernetes-int-or-string'] === true) {
    delete out.type;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (src.properties && src['x-kubernetes-preserve-unknown-fields'] !== true && src.additionalProperties === undefined) {
    out.additionalProperties = false;
  }
  return out;
}

/**
 * RE2's `(?i)` for JavaScript: drops the flag and turns each letter outside a character class into
 * `[xX]`. Enough for the patterns the vendored CRDs hold (`^(?i)(abort|warn)?$`); refuses others.
 */
function caseInsensitive(pattern: string): string {
  const body = pattern.replace('(?i)', '');
  if (/[[\\]|\(\?i\)/.test(body)) throw new TypeError(`unsupported case-insensitive pattern ${pattern}`);
  return body.replace(/[a-z]/gi, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
}

export interface CrdValidators {
  /** `group/version Kind` → validator, e.g. `serving.knative.dev/v1 Service`. */
  readonly byKind: ReadonlyMap<string, ValidateFunction>;
  /** Validates one object; returns the problems (empty when valid or when its kind is unknown). */
  validate(obj: Record<string, unknown>): string[] | undefined;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.yaml'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Compiles a validator per served version of every CRD below `dir`. */
export function loadCrdValidators(dir: string): CrdValidators {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const byKind = new Map<string, ValidateFunction>();
  for (const file of yamlFiles(dir)) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd = doc.toJS() as { kind?: string; spec?: { group: string; names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: Schema } }[] } };
      if (crd?.kind !== 'CustomResourceDefinition' || !crd.spec) continue;
      for (const v of crd.spec.versions) {
        const schema = strictSchema(v.schema.openAPIV3Schema) as Schema;
        // Every object has these, whether or not the CRD lists them at its root.
        schema.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...(schema.properties as Schema) };
        byKind.set(`${crd.spec.group}/${v.name} ${crd.spec.names.kind}`, ajv.compile(schema));
      }
    }
  }
  return {
    byKind,
    validate(obj) {
      const fn = byKind.get(`${obj.apiVersion as string} ${obj.kind as string}`);
      if (!fn) return undefined;
      if (fn(obj)) return [];
      return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    },
  };
}

const LABEL_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** ObjectMeta rules every object must meet: a DNS-label name, valid label keys and values. */
export function metadataProblems(obj: Record<string, unknown>): string[] {
  const meta = obj.metadata as { name?: unknown; labels?: Record<string, unknown>; annotations?: Record<string, unknown> } | undefined;
  if (!meta) return ['no metadata'];
  const problems: string[] = [];
  if (typeof meta.name !== 'string' || !DNS_LABEL.test(meta.name)) problems.push(`metadata.name ${String(meta.name)} is not a DNS label`);
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    if (!LABEL_NAME.test(k)) problems.push(`label key ${k} is invalid`);
    if (typeof v !== 'string' || !LABEL_VALUE.test(v)) problems.push(`label ${k}=${String(v)} is invalid`);
  }
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    if (!LABEL_NAME.test(k) || typeof v !== 'string') problems.push(`annotation ${k} is invalid`);
  }
  return problems;
}
