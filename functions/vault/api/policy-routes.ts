// ACL policies: sys/policies/acl/:name (current API) and sys/policy/:name (what node-vault calls).
// @see https://developer.hashicorp.com/vault/api-docs/system/policies
import { asc, eq, lt } from 'drizzle-orm';
import type { Database } from '#shared/db/index';
import { PolicyError, parsePolicy, type Capability } from '#functions/vault/core/acl';
import { invalidRequest, notFoundError } from '#functions/vault/core/errors';
import type { RowMacSource } from '#functions/vault/core/integrity';
import { checkPolicy, DEFAULT_POLICY_TEXT, policyMacFields, type AclCache } from '#functions/vault/core/policy-store';
import { nextRowSeq } from '#functions/vault/core/row-seq';
import { policies } from '#functions/vault/core/schema';
import { assertNoNul } from '#functions/vault/core/wire';
import { WRAPPING_POLICY } from '#functions/vault/core/wrapping';
import { done, ok } from './pipeline.js';
import type { VaultRequest, VaultRoute } from './route.js';

const NAME = /^[a-z0-9_.@-]{1,128}$/;
const MAX_POLICY_BYTES = 64 * 1024;

function nameOf(raw: string): string {
  const name = raw.toLowerCase();
  if (!NAME.test(name)) throw invalidRequest('invalid policy name');
  return name;
}

export function policyRoutes(database: Database, acls: AclCache, rowMac: RowMacSource): VaultRoute[] {
  const db = database.db;

  const names = async () => {
    const rows = await db.select({ name: policies.name }).from(policies).orderBy(asc(policies.name));
    const set = new Set(['default', ...rows.map((r) => r.name), 'root']);
    return [...set].sort();
  };

  const read = async (name: string) => {
    if (name === 'root') return '';
    const mac = await rowMac();
    const since = mac.clock();
    const [row] = await db.select().from(policies).where(eq(policies.name, name));
    if (row) {
      checkPolicy(mac, row, since);
      return row.text;
    }
    if (name === 'default') return DEFAULT_POLICY_TEXT;
    return undefined;
  };

  const write = async (req: VaultRequest, name: string, field: 'policy' | 'rules') => {
    if (name === 'root' || name === WRAPPING_POLICY) throw invalidRequest(`cannot update "${name}" policy`);
    const text = req.body[field] ?? req.body.policy ?? req.body.rules;
    if (typeof text !== 'string') throw invalidRequest(`"${field}" parameter not supplied`);
    if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw invalidRequest('policy too large');
    // Vault accepts the policy base64-encoded as well.
    const source = /^[A-Za-z0-9+/]+={0,2}$/.test(text.trim()) && text.trim().length % 4 === 0 && !/["{]/.test(text)
      ? Buffer.from(text, 'base64').toString('utf8')
      : text;
    assertNoNul(source, 'policy');
    let rules;
    try {
      rules = parsePolicy(source);
    } catch (err) {
      if (err instanceof PolicyError) throw invalidRequest(err.message);
      throw err;
    }
    const updatedAt = new Date();
    const rm = await rowMac();
    const seq = await nextRowSeq(db);
    const mac = rm.sign('policies', policyMacFields({ name, text: source, rules, updatedAt, seq }));
    // Of two writes racing, the one with the higher seq stays: a row's seq never goes down.
    const since = rm.clock();
    const written = await db
      .insert(policies)
      .values({ name, text: source, rules, updatedAt, seq, mac })
      .onConflictDoUpdate({ target: policies.name, set: { text: source, rules, updatedAt, seq, mac }, setWhere: lt(policies.seq, seq) })
      .returning({ seq: policies.seq });
    if (written.length) rm.observe('policies', name, seq, since);
    acls.invalidate();
    return done();
  };

  const remove = async (name: string) => {
    if (name === 'root' || name === 'default') throw invalidRequest(`cannot delete "${name}" policy`);
    const rm = await rowMac();
    const gone = await db.delete(policies).where(eq(policies.name, name)).returning({ seq: policies.seq });
    for (const g of gone) rm.gone('policies', name, g.seq);
    acls.invalidate();
    return done();
  };

  return [
    {
      pattern: /^sys\/policies\/acl$/,
      handlers: { list: async (req) => ok(req, { data: { keys: await names() } }) },
    },
    {
      pattern: /^sys\/policies\/acl\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const name = nameOf(m[1]!);
          const text = await read(name);
          if (text === undefined) throw notFoundError();
          return ok(req, { data: { name, policy: text } });
        },
        update: (req, m) => write(req, nameOf(m[1]!), 'policy'),
        delete: (_req, m) => remove(nameOf(m[1]!)),
      },
    },
    {
      pattern: /^sys\/policy$/,
      handlers: {
        read: async (req) => {
          const keys = await names();
          return { status: 200, body: { ...ok(req, { data: { keys, policies: keys } }).body, keys, policies: keys } };
        },
      },
    },
    {
      pattern: /^sys\/policy\/([^/]+)$/,
      handlers: {
        read: async (req, m) => {
          const name = nameOf(m[1]!);
          const text = await read(name);
          if (text === undefined) throw notFoundError();
          return { status: 200, body: { ...ok(req, { data: { name, rules: text } }).body, name, rules: text } };
        },
        update: (req, m) => write(req, nameOf(m[1]!), 'rules'),
        delete: (_req, m) => remove(nameOf(m[1]!)),
      },
    },
    {
      pattern: /^sys\/capabilities-self$/,
      capability: () => 'update',
      handlers: {
        update: async (req) => {
          const raw = req.body.paths ?? req.body.path;
          const paths = typeof raw === 'string' ? [raw] : raw;
          if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) throw invalidRequest('paths must be a list of strings');
          const data: Record<string, Capability[] | string[]> = {};
          for (const p of paths as string[]) {
            const caps = [...req.acl!.capabilities(p.replace(/^\/+/, ''))];
            data[p] = req.acl!.root ? ['root'] : caps.length ? caps : ['deny'];
          }
          if (paths.length === 1) data.capabilities = data[paths[0] as string]!;
          return ok(req, { data });
        },
      },
    },
  ];
}
