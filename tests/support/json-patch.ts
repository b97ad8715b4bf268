// RFC 6902 JSON Patch (add, remove, replace, test) over RFC 6901 JSON Pointers, applied in place:
// what tests/support/kustomize.ts needs of kustomize's JSON6902 patches.
// @see https://www.rfc-editor.org/rfc/rfc6902
import { isDeepStrictEqual } from 'node:util';

export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** RFC 6901 §3–4: `/a~1b/c~0d` → ['a/b', 'c~d']; the empty pointer is the whole document. */
function tokens(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`"${pointer}" is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(arr: unknown[], token: string, forAdd: boolean): number {
  // RFC 6902 §4.1: "-" appends; otherwise an index no greater than the length (add) or below it.
  if (token === '-' && forAdd) return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`"${token}" is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length)) throw new Error(`index ${i} is out of bounds`);
  return i;
}

/** Applies `ops` to `doc` in order; throws on the first that cannot apply (RFC 6902 §5). */
export function applyJsonPatch(doc: Record<string, unknown>, ops: readonly JsonPatchOperation[]): void {
  for (const op of ops) {
    const path = tokens(op.path);
    if (path.length === 0) throw new Error('patching the whole document is not supported');
    const last = path.pop()!;
    let parent: any = doc;
    for (const t of path) {
      const next = Array.isArray(parent) ? parent[arrayIndex(parent, t, false)] : parent?.[t];
      if (next === null || typeof next !== 'object') throw new Error(`${op.path}: no object at "${t}"`);
      parent = next;
    }
    const has = Array.isArray(parent) ? last !== '-' && /^\d+$/.test(last) && Number(last) < parent.length : Object.hasOwn(parent, last);
    switch (op.op) {
      case 'add':
        if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, structuredClone(op.value));
        else parent[last] = structuredClone(op.value);
        break;
      case 'replace':
        if (!has) throw new Error(`${op.path}: nothing to replace`);
        parent[Array.isArray(parent) ? arrayIndex(parent, last, false) : last] = structuredClone(op.value);
        break;
      case 'remove':
        if (!has) throw new Error(`${op.path}: nothing to remove`);
        if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false), 1);
        else delete parent[last];
        break;
      case 'test':
        if (!has || !isDeepStrictEqual(parent[last], op.value)) throw new Error(`${op.path}: test failed`);
        break;
      default:
        throw new Error(`unsupported operation ${(op as { op: string }).op}`);
    }
  }
}
