// Vault's ACL model: path rules with capabilities, `*` only at the end (prefix), `+` for one
// whole segment, rules of the same path merged across policies with deny winning, and the most
// specific matching path deciding.
// @see https://developer.hashicorp.com/vault/docs/concepts/policies#policy-syntax
// @see https://developer.hashicorp.com/vault/docs/concepts/policies#priority-matching
import { parseHcl, type HclBody, type HclValue } from './hcl.js';

export const CAPABILITIES = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface PolicyRule {
  path: string;
  capabilities: Capability[];
}

export class PolicyError extends Error {
  readonly code = 'invalid_policy';
}

const ALLOWED_KEYS = new Set(['capabilities']);

/** Parses a policy written in HCL or JSON into its path rules; refuses what it cannot honour. */
export function parsePolicy(text: string): PolicyRule[] {
  let doc: HclBody;
  const trimmed = text.trim();
  try {
    doc = trimmed.startsWith('{') ? (JSON.parse(trimmed) as HclBody) : parseHcl(trimmed);
  } catch (err) {
    throw new PolicyError(`failed to parse policy: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new PolicyError('failed to parse policy: not an object');
  for (const key of Object.keys(doc)) {
    if (key !== 'path' && key !== 'name') throw new PolicyError(`unsupported policy key "${key}"`);
  }
  const paths = doc.path;
  if (paths === undefined) return [];
  if (typeof paths !== 'object' || Array.isArray(paths)) throw new PolicyError('"path" must be a block of path rules');
  return Object.entries(paths).map(([path, body]) => parseRule(path, body));
}

function parseRule(path: string, body: HclValue): PolicyRule {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new PolicyError(`path "${path}": expected a block`);
  for (const key of Object.keys(body)) {
    // Parameter constraints would narrow a grant; ignoring them silently would widen it.
    if (!ALLOWED_KEYS.has(key)) throw new PolicyError(`path "${path}": unsupported key "${key}"`);
  }
  const caps = (body as HclBody).capabilities;
  if (!Array.isArray(caps) || !caps.every((c) => typeof c === 'string')) {
    throw new PolicyError(`path "${path}": capabilities must be a list of strings`);
  }
  for (const c of caps) {
    if (!(CAPABILITIES as readonly string[]).includes(c as string)) throw new PolicyError(`path "${path}": unknown capability "${c}"`);
  }
  const star = path.indexOf('*');
  if (star >= 0 && star !== path.length - 1) throw new PolicyError(`path "${path}": "*" is only allowed at the end`);
  const clean = path.replace(/^\/+/, '');
  if (clean.split('/').some((seg) => seg.includes('+') && seg !== '+')) {
    throw new PolicyError(`path "${path}": "+" must be a whole segment`);
  }
  return { path: clean, capabilities: [...new Set(caps as Capability[])] };
}

interface CompiledRule {
  path: string;
  caps: Set<Capability>;
  regex: RegExp;
  glob: boolean;
  firstWildcard: number;
  plusCount: number;
}

function compile(path: string, caps: Set<Capability>): CompiledRule {
  const glob = path.endsWith('*');
  const body = glob ? path.slice(0, -1) : path;
  const source = body
    .split('/')
    .map((seg) => (seg === '+' ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  const wildcard = path.search(/[*+]/);
  return {
    path,
    caps,
    regex: new RegExp(`^${source}${glob ? '' : '$'}`),
    glob,
    firstWildcard: wildcard < 0 ? Infinity : wildcard,
    plusCount: path.split('/').filter((s) => s === '+').length,
  };
}

/** True when `a` has lower priority than `b` (Vault's five rules, in order). */
function lowerPriority(a: CompiledRule, b: CompiledRule): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard < b.firstWildcard;
  if (a.glob !== b.glob) return a.glob;
  if (a.plusCount !== b.plusCount) return a.plusCount > b.plusCount;
  if (a.path.length !== b.path.length) return a.path.length < b.path.length;
  return a.path < b.path;
}

/** The merged rules of a token's policies, ready to answer "what may this token do at path?". */
export interface Acl {
  readonly root: boolean;
  capabilities(path: string): Set<Capability>;
  allows(path: string, capability: Capability): boolean;
}

/** Builds an ACL from each policy's rules; the `root` policy grants everything. */
export function buildAcl(policyNames: readonly string[], rulesOf: (name: string) => PolicyRule[] | undefined): Acl {
  const root = policyNames.includes('root');
  const merged = new Map<string, Set<Capability>>();
  for (const name of policyNames) {
    for (const rule of rulesOf(name) ?? []) {
      const caps = merged.get(rule.path) ?? new Set<Capability>();
      for (const c of rule.capabilities) caps.add(c);
      merged.set(rule.path, caps);
    }
  }
  const rules = [...merged].map(([path, caps]) => compile(path, caps.has('deny') ? new Set<Capability>(['deny']) : caps));
  const capabilities = (path: string): Set<Capability> => {
    if (root) return new Set(CAPABILITIES.filter((c) => c !== 'deny'));
    let best: CompiledRule | undefined;
    for (const r of rules) {
      if (r.regex.test(path) && (!best || lowerPriority(best, r))) best = r;
    }
    if (!best || best.caps.has('deny')) return new Set();
    return new Set(best.caps);
  };
  return { root, capabilities, allows: (path, cap) => capabilities(path).has(cap) };
}

/** Vault's built-in `default` policy, reduced to the endpoints we serve. */
export const DEFAULT_POLICY_TEXT = `# Allow tokens to look up, renew and revoke themselves.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
# Allow a token to wrap arbitrary values, look up a wrapping token's creation data and unwrap
# (a wrapping token given in the body; the wrapping token itself needs no policy).
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}
`;

