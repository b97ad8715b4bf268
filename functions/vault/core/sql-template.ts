// Vault's statement templates ({{name}}, {{username}}, {{password}}, {{expiration}}) filled with
// PostgreSQL's quoting rules for where each placeholder stands: inside "…" the value is an
// identifier's body ("" doubled), inside '…' a literal's body ('' doubled, and \ doubled in E'…'),
// bare it becomes a whole quoted identifier (name, username) or literal (password, expiration).
// A value can never end the quoted run it stands in, so no input reaches the SQL as SQL.
// @see https://www.postgresql.org/docs/current/sql-syntax-lexical.html
// @see https://developer.hashicorp.com/vault/docs/secrets/databases/postgresql
import { invalidRequest } from './errors.js';

export type TemplateValues = Partial<Record<'name' | 'username' | 'password' | 'expiration', string>>;

const IDENTIFIER_KEYS = new Set(['name', 'username']);
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

type Context = 'bare' | 'ident' | 'literal' | 'eliteral';

function quoteIn(context: Context, key: string, value: string): string {
  // eslint-disable-next-line no-control-regex
  if (value.includes('\u0000')) throw invalidRequest(`the value of {{${key}}} contains a NUL character`);
  const ident = value.replace(/"/g, '""');
  const literal = value.replace(/'/g, "''");
  switch (context) {
    case 'ident':
      return ident;
    case 'literal':
      return literal;
    case 'eliteral':
      return literal.replace(/\\/g, '\\\\');
    case 'bare':
      return IDENTIFIER_KEYS.has(key) ? `"${ident}"` : `'${literal}'`;
  }
}

/** Fills one statement; throws a 400 for an unknown placeholder or one inside a dollar-quoted body. */
export function renderStatement(statement: string, values: TemplateValues): string {
  let out = '';
  let context: Context = 'bare';
  let i = 0;
  while (i < statement.length) {
    if (context !== 'bare' || (!statement.startsWith('--', i) && !statement.startsWith('/*', i))) {
      if (statement.startsWith('{{', i)) {
        const end = statement.indexOf('}}', i + 2);
        if (end < 0) throw invalidRequest('unterminated template placeholder in a statement');
        const key = statement.slice(i + 2, end).trim();
        const value = (values as Record<string, string | undefined>)[key];
        if (value === undefined) throw invalidRequest(`unknown template placeholder {{${key}}} in a statement`);
        out += quoteIn(context, key, value);
        i = end + 2;
        continue;
      }
    }
    const c = statement[i]!;
    if (context === 'bare') {
      if (statement.startsWith('--', i)) {
        const nl = statement.indexOf('\n', i);
        const stop = nl < 0 ? statement.length : nl;
        out += statement.slice(i, stop);
        i = stop;
        continue;
      }
      if (statement.startsWith('/*', i)) {
        const close = statement.indexOf('*/', i + 2);
        const stop = close < 0 ? statement.length : close + 2;
        out += statement.slice(i, stop);
        i = stop;
        continue;
      }
      if (c === '$' && !/[A-Za-z0-9_$]$/.test(out)) {
        const tag = DOLLAR_TAG.exec(statement.slice(i));
        if (tag) {
          const close = statement.indexOf(tag[0], i + tag[0].length);
          const stop = close < 0 ? statement.length : close + tag[0].length;
          if (statement.slice(i, stop).includes('{{')) throw invalidRequest('template placeholders inside dollar-quoted bodies are not supported');
          out += statement.slice(i, stop);
          i = stop;
          continue;
        }
      }
      if (c === "'") context = /(^|[^A-Za-z0-9_$])[eE]$/.test(out) ? 'eliteral' : 'literal';
      else if (c === '"') context = 'ident';
    } else if (context === 'eliteral' && c === '\\') {
      out += statement.slice(i, i + 2);
      i += 2;
      continue;
    } else if ((context === 'literal' || context === 'eliteral') && c === "'") {
      context = 'bare';
    } else if (context === 'ident' && c === '"') {
      context = 'bare';
    }
    out += c;
    i++;
  }
  if (context !== 'bare') throw invalidRequest('unterminated quoted text in a statement');
  return out;
}

/**
 * Vault accepts statements as a list or as one string; each entry may hold several statements
 * separated by semicolons. Entries are kept whole (PostgreSQL runs them in one simple query).
 */
export function statementsOf(value: unknown, field: string): string[] | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw invalidRequest(`${field} must be a string or a list of strings`);
  const kept = (list as string[]).map((s) => s.trim()).filter((s) => s !== '');
  if (kept.some((s) => s.length > 64 * 1024)) throw invalidRequest(`${field}: a statement is too long`);
  return kept;
}

/** Vault's {{expiration}}: `2006-01-02 15:04:05-0700` in UTC. */
export function formatExpiration(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')}+0000`;
}
