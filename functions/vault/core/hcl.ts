// The HCL subset Vault policies use: `path "<glob>" { capabilities = ["read", ...] }`,
// comments (#, //, /* */), strings, numbers, booleans, lists and nested blocks.
// @see https://github.com/hashicorp/hcl/blob/hcl1/README.md (HCL 1 syntax)

export type HclValue = string | number | boolean | HclValue[] | HclBody;
/** A block body: each key maps to the values assigned or the blocks declared under it. */
export interface HclBody {
  [key: string]: HclValue;
}

class HclError extends Error {
  readonly code = 'invalid_hcl';
}

type Token = { kind: 'str' | 'ident' | 'num' | 'punct'; text: string; at: number };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new HclError('unterminated comment');
      i = end + 2;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\n') throw new HclError(`unterminated string at ${i}`);
        if (src[j] === '\\') {
          const n = src[j + 1];
          text += n === 'n' ? '\n' : n === 't' ? '\t' : (n ?? '');
          j += 2;
        } else text += src[j++];
      }
      if (j >= src.length) throw new HclError(`unterminated string at ${i}`);
      out.push({ kind: 'str', text, at: i });
      i = j + 1;
    } else if ('{}[]=,:'.includes(c)) {
      out.push({ kind: 'punct', text: c, at: i++ });
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][\w.-]*/.exec(src.slice(i))!;
      out.push({ kind: 'ident', text: m[0], at: i });
      i += m[0].length;
    } else if (/[-\d]/.test(c)) {
      const m = /^-?\d+(\.\d+)?/.exec(src.slice(i));
      if (!m) throw new HclError(`unexpected "${c}" at ${i}`);
      out.push({ kind: 'num', text: m[0], at: i });
      i += m[0].length;
    } else {
      throw new HclError(`unexpected "${c}" at ${i}`);
    }
  }
  return out;
}

/** Parses HCL text into nested bodies; `path "a" {..}` becomes `{ path: { a: {..} } }`. */
export function parseHcl(src: string): HclBody {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const expect = (text: string) => {
    const t = toks[p++];
    if (!t || t.text !== text || t.kind !== 'punct') throw new HclError(`expected "${text}" at ${t?.at ?? 'end'}`);
  };

  const value = (): HclValue => {
    const t = toks[p++];
    if (!t) throw new HclError('unexpected end of input');
    if (t.kind === 'str') return t.text;
    if (t.kind === 'num') return Number(t.text);
    if (t.kind === 'ident' && (t.text === 'true' || t.text === 'false')) return t.text === 'true';
    if (t.kind === 'punct' && t.text === '[') {
      const list: HclValue[] = [];
      while (peek() && peek()!.text !== ']') {
        list.push(value());
        if (peek()?.text === ',') p++;
      }
      expect(']');
      return list;
    }
    if (t.kind === 'punct' && t.text === '{') {
      const b = body('}');
      expect('}');
      return b;
    }
    throw new HclError(`unexpected "${t.text}" at ${t.at}`);
  };

  const body = (end: string | undefined): HclBody => {
    const out: HclBody = Object.create(null);
    while (peek() && peek()!.text !== end) {
      const key = toks[p++]!;
      if (key.kind !== 'ident' && key.kind !== 'str') throw new HclError(`expected a key at ${key.at}`);
      const labels: string[] = [];
      while (peek()?.kind === 'str') labels.push(toks[p++]!.text);
      let v: HclValue;
      if (peek()?.text === '=' || peek()?.text === ':') {
        if (labels.length) throw new HclError(`unexpected "=" after a label at ${peek()!.at}`);
        p++;
        v = value();
      } else {
        expect('{');
        v = body('}');
        expect('}');
      }
      // Nest labelled blocks: path "a" { } → path: { a: { } }; repeated labels merge.
      let target = out;
      let k = key.text;
      for (const label of labels) {
        const existing = target[k];
        const next = existing && typeof existing === 'object' && !Array.isArray(existing) ? existing : (Object.create(null) as HclBody);
        target[k] = next;
        target = next;
        k = label;
      }
      if (k in target) throw new HclError(`"${k}" is declared twice`);
      target[k] = v;
      if (peek()?.text === ',') p++;
    }
    return out;
  };

  const result = body(undefined);
  if (p !== toks.length) throw new HclError(`unexpected "${toks[p]!.text}" at ${toks[p]!.at}`);
  return result;
}
