// The SCIM filter language (RFC 7644 §3.4.2.2) parsed into a tree: attribute paths, the eleven
// operators, and/or/not, grouping and value paths (`emails[type eq "work"]`). Bounded in length,
// nesting and size, so that a hostile filter costs little to refuse.
import { invalidFilter } from './scim-error.js';

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';
export type FilterValue = string | number | boolean | null;

/** `urn:…:User:name.givenName` → { schema: 'urn:…:User', attr: 'name', sub: 'givenName' }. */
export interface AttrPath {
  schema: string | undefined;
  attr: string;
  sub: string | undefined;
}

export type Filter =
  | { kind: 'and' | 'or'; left: Filter; right: Filter }
  | { kind: 'not'; filter: Filter }
  | { kind: 'compare'; path: AttrPath; op: CompareOp; value: FilterValue }
  | { kind: 'present'; path: AttrPath }
  | { kind: 'valuePath'; path: AttrPath; filter: Filter };

const MAX_LENGTH = 4096;
const MAX_DEPTH = 16;
const MAX_NODES = 64;
const COMPARE_OPS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);

type Token = { t: 'word'; v: string } | { t: 'string'; v: string } | { t: 'number'; v: number } | { t: '(' | ')' | '[' | ']' };

const TOKEN = /\s*(?:(\()|(\))|(\[)|(\])|("(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.:])|([A-Za-z][\w.:$-]*))/y;

function tokenize(input: string): Token[] {
  const out: Token[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < input.length) {
    if (/^\s*$/.test(input.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(input);
    if (!m) throw invalidFilter(`Unexpected character at position ${pos + 1}.`);
    pos = TOKEN.lastIndex;
    if (m[1]) out.push({ t: '(' });
    else if (m[2]) out.push({ t: ')' });
    else if (m[3]) out.push({ t: '[' });
    else if (m[4]) out.push({ t: ']' });
    else if (m[5]) out.push({ t: 'string', v: JSON.parse(m[5]) as string });
    else if (m[6]) out.push({ t: 'number', v: Number(m[6]) });
    else out.push({ t: 'word', v: m[7]! });
  }
  return out;
}

const CORE_URN = /^(urn:ietf:params:scim:schemas:(?:core:2\.0:(?:User|Group)|extension:enterprise:2\.0:User)):(.+)$/i;

/** Parses an attribute path (RFC 7644 §3.10): an optional schema URN, an attribute, one sub-attribute. */
export function parseAttrPath(raw: string): AttrPath {
  let schema: string | undefined;
  let rest = raw;
  const urn = CORE_URN.exec(raw);
  if (urn) {
    schema = urn[1]!.toLowerCase();
    rest = urn[2]!;
  } else if (raw.toLowerCase().startsWith('urn:')) {
    throw invalidFilter(`Unknown schema in attribute path "${raw}".`);
  }
  const parts = rest.split('.');
  if (parts.length > 2 || parts.some((p) => !/^[A-Za-z][\w$-]*$/.test(p))) throw invalidFilter(`Invalid attribute path "${raw}".`);
  return { schema, attr: parts[0]!, sub: parts[1] };
}

/** Parses a filter; any error is a 400 `invalidFilter`. */
export function parseFilter(input: string): Filter {
  if (input.length > MAX_LENGTH) throw invalidFilter(`The filter is longer than ${MAX_LENGTH} characters.`);
  const tokens = tokenize(input);
  let i = 0;
  let nodes = 0;
  const peek = () => tokens[i];
  const word = (tok: Token | undefined) => (tok?.t === 'word' ? tok.v.toLowerCase() : undefined);
  const count = () => {
    if (++nodes > MAX_NODES) throw invalidFilter(`The filter has more than ${MAX_NODES} expressions.`);
  };

  const parseOr = (depth: number, inValuePath: boolean): Filter => {
    let left = parseAnd(depth, inValuePath);
    while (word(peek()) === 'or') {
      i++;
      count();
      left = { kind: 'or', left, right: parseAnd(depth, inValuePath) };
    }
    return left;
  };
  const parseAnd = (depth: number, inValuePath: boolean): Filter => {
    let left = parseUnary(depth, inValuePath);
    while (word(peek()) === 'and') {
      i++;
      count();
      left = { kind: 'and', left, right: parseUnary(depth, inValuePath) };
    }
    return left;
  };
  const expect = (t: '(' | ')' | ']') => {
    if (peek()?.t !== t) throw invalidFilter(`Expected "${t}".`);
    i++;
  };
  const parseUnary = (depth: number, inValuePath: boolean): Filter => {
    if (depth > MAX_DEPTH) throw invalidFilter(`The filter nests deeper than ${MAX_DEPTH}.`);
    const tok = peek();
    if (word(tok) === 'not' && tokens[i + 1]?.t === '(') {
      i += 2;
      count();
      const filter = parseOr(depth + 1, inValuePath);
      expect(')');
      return { kind: 'not', filter };
    }
    if (tok?.t === '(') {
      i++;
      const f = parseOr(depth + 1, inValuePath);
      expect(')');
      return f;
    }
    if (tok?.t !== 'word') throw invalidFilter('Expected an attribute path.');
    i++;
    count();
    const path = parseAttrPath(tok.v);
    if (peek()?.t === '[') {
      if (inValuePath) throw invalidFilter('A value path cannot nest another.');
      if (path.sub) throw invalidFilter('A value path applies to a multi-valued attribute, not a sub-attribute.');
      i++;
      const filter = parseOr(depth + 1, true);
      expect(']');
      return { kind: 'valuePath', path, filter };
    }
    const op = word(peek());
    if (op === 'pr') {
      i++;
      return { kind: 'present', path };
    }
    if (!op || !COMPARE_OPS.has(op)) throw invalidFilter(`Unknown operator after "${tok.v}".`);
    i++;
    const v = peek();
    i++;
    let value: FilterValue;
    if (v?.t === 'string' || v?.t === 'number') value = v.v;
    else if (word(v) === 'true') value = true;
    else if (word(v) === 'false') value = false;
    else if (word(v) === 'null') value = null;
    else throw invalidFilter(`Expected a value after "${tok.v} ${op}".`);
    return { kind: 'compare', path, op: op as CompareOp, value };
  };

  if (!tokens.length) throw invalidFilter('The filter is empty.');
  const f = parseOr(0, false);
  if (i !== tokens.length) throw invalidFilter('Unexpected text after the filter.');
  return f;
}
