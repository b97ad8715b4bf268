// Parsers for PostgreSQL's built-in array types, given to postgres.js statically so that it need
// not query pg_type for them on its first connection (`fetch_types: false`, cold start).
// Array output syntax: https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO

type Element = (text: string) => unknown;

/**
 * Parses an array literal as PostgreSQL prints it (`{a,"b c",NULL,{1,2}}`, optionally preceded by
 * dimension bounds `[0:1]=`) into nested arrays; each non-NULL element goes through `element`.
 */
export function parsePgArray(literal: string, element: Element = (x) => x): unknown[] {
  let i = literal.startsWith('[') ? literal.indexOf('=') + 1 : 0;
  if (literal[i] !== '{') throw new TypeError('not an array literal');
  const parseLevel = (): unknown[] => {
    const out: unknown[] = [];
    i++; // past '{'
    if (literal[i] === '}') {
      i++;
      return out;
    }
    for (;;) {
      const c = literal[i];
      if (c === '{') out.push(parseLevel());
      else if (c === '"') {
        let s = '';
        for (i++; literal[i] !== '"'; i++) {
          if (i >= literal.length) throw new TypeError('unterminated quoted array element');
          if (literal[i] === '\\') i++;
          s += literal[i];
        }
        i++;
        out.push(element(s));
      } else {
        const start = i;
        while (i < literal.length && literal[i] !== ',' && literal[i] !== '}') i++;
        const token = literal.slice(start, i);
        out.push(token.toUpperCase() === 'NULL' ? null : element(token));
      }
      if (literal[i] === ',') i++;
      else if (literal[i] === '}') {
        i++;
        return out;
      } else throw new TypeError('malformed array literal');
    }
  };
  const out = parseLevel();
  if (i !== literal.length) throw new TypeError('trailing characters after array literal');
  return out;
}

/** Writes a JS array as an array literal, every element quoted (NULL for null/undefined). */
export function serializePgArray(value: unknown): string {
  if (typeof value === 'string') return value; // already a literal
  if (!Array.isArray(value)) throw new TypeError('not an array');
  const item = (x: unknown): string => {
    if (x === null || x === undefined) return 'NULL';
    if (Array.isArray(x)) return serializePgArray(x);
    const text = typeof x === 'object' ? JSON.stringify(x) : String(x);
    return `"${text.replace(/[\\"]/g, '\\$&')}"`;
  };
  return `{${value.map(item).join(',')}}`;
}

const number: Element = (x) => +x;
const bool: Element = (x) => x === 't';

/** Array type oid → parser of its elements, as postgres.js parses the element type itself. */
const ARRAY_ELEMENTS: Record<number, Element | undefined> = {
  1009: undefined, // text[]
  1015: undefined, // varchar[]
  1014: undefined, // bpchar[]
  1002: undefined, // "char"[]
  1003: undefined, // name[]
  2951: undefined, // uuid[]
  1016: undefined, // int8[]: strings, as postgres.js returns int8
  1005: number, // int2[]
  1007: number, // int4[]
  1028: number, // oid[]
  1021: number, // float4[]
  1022: number, // float8[]
  1000: bool, // bool[]
  199: JSON.parse, // json[]
  3807: JSON.parse, // jsonb[]
};

type ArrayType = { to: number; from: number[]; parse: (x: string) => unknown; serialize: (x: unknown) => string };

/** postgres.js `types` for the built-in arrays: parameters as literals or JS arrays, results as JS arrays. */
export function builtinArrayTypes(): Record<string, ArrayType> {
  const out: Record<string, ArrayType> = {};
  for (const [oid, element] of Object.entries(ARRAY_ELEMENTS)) {
    out[`array${oid}`] = { to: Number(oid), from: [Number(oid)], parse: (x) => parsePgArray(x, element), serialize: serializePgArray };
  }
  return out;
}
