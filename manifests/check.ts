// Checks declarations against what the cluster will accept (Knative, Gateway API, Kubernetes),
// reporting every problem of every function at once.
import type { FunctionDeclaration, RouteDeclaration } from '#shared/function/define';
import { runtimeProblems, type ResourceQuantities } from '#shared/function/runtime';
import { cronProblems } from './cron.js';
import { DATABASE_ENV } from './database-env.js';
import { DNS_LABEL } from './names.js';

/** Raised when declarations cannot become valid manifests; lists every problem. */
export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  readonly code = 'invalid_declaration';
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`cannot generate manifests:\n  ${problems.join('\n  ')}`);
    this.problems = problems;
  }
}

const EVENT_TYPE = /^io\.zenokube\.[a-z0-9-]+(\.[a-z0-9-]+)+$/;
/** CloudEvents 1.0 §3.1.1: attribute names are lower-case ASCII letters or digits. */
const CE_ATTRIBUTE = /^[a-z0-9]{1,20}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** Knative Serving's revision timeout ceiling (config-defaults max-revision-timeout-seconds). */
const MAX_TIMEOUT_SECONDS = 600;
/** Set by Knative or by the generator itself; a declaration may not claim them. */
const RESERVED_ENV = new Set<string>(['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION', 'K_SINK', 'K_CE_OVERRIDES', 'ZENO_FUNCTION', 'ZENO_BASE_URL', 'NODE_OPTIONS', ...DATABASE_ENV]);
const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** ISO 8601 duration as Knative parses `backoffDelay` (e.g. PT0.2S, PT1M). */
const ISO_DURATION = /^P(?!$)(\d+(\.\d+)?D)?(T(?=\d)(\d+(\.\d+)?H)?(\d+(\.\d+)?M)?(\d+(\.\d+)?S)?)?$/;

/**
 * Gateway API v1.2 HTTPPathMatch CEL rules for `Exact` and `PathPrefix` values.
 * @see https://gateway-api.sigs.k8s.io/reference/spec/#httppathmatch
 */
function pathProblems(route: RouteDeclaration): string[] {
  const p = route.path;
  if (route.match === 'RegularExpression') {
    try {
      new RegExp(`^(?:${p})$`);
      return [];
    } catch {
      return [`route "${p}" is not a valid regular expression`];
    }
  }
  const problems: string[] = [];
  if (!p.startsWith('/')) problems.push(`route "${p}" must be an absolute path`);
  if (!/^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$/.test(p)) problems.push(`route "${p}" has characters a path may not hold`);
  if (/\/\/|\/\.\/|\/\.\.\/|%2f|#/i.test(p) || p.endsWith('/.') || p.endsWith('/..')) problems.push(`route "${p}" is not a normalised path`);
  if (p.length > 1024) problems.push(`route "${p.slice(0, 32)}…" is longer than 1024 characters`);
  return problems;
}

function checkFunction(d: FunctionDeclaration, defaultLimits: ResourceQuantities): string[] {
  const problems: string[] = [];
  if (!DNS_LABEL.test(d.name)) problems.push(`name "${d.name}" is not a DNS label (lower-case, digits, dashes, at most 63)`);
  if (!d.name.startsWith(`${d.product}-`)) problems.push(`name must start with the product, "${d.product}-"`);

  const s = d.scaling;
  const int = (n: number) => Number.isInteger(n) && n >= 0;
  if (!int(s.minScale) || !int(s.maxScale) || s.maxScale < Math.max(1, s.minScale)) problems.push('scaling: need integers 0 <= minScale <= maxScale, maxScale >= 1');
  if (d.longRunning && s.minScale < 1) problems.push('scaling: a long-running function needs minScale >= 1');
  // Its Service is a plain ClusterIP Service (manifests/workload.ts): Triggers and PingSources name Knative Services.
  if (d.longRunning && ((d.subscribes ?? []).length > 0 || (d.schedules ?? []).length > 0)) problems.push('a long-running function receives no events (no subscriptions or schedules)');
  if (d.longRunning && d.kubernetes) problems.push('a long-running function declares no kubernetes access (its workload has its own RBAC)');
  if (!int(s.containerConcurrency) || s.containerConcurrency > 1000) problems.push('scaling: containerConcurrency must be an integer 0..1000');
  if (s.target !== undefined && !(s.target > 0)) problems.push('scaling: target must be positive');
  if (!Number.isInteger(s.timeoutSeconds) || s.timeoutSeconds < 1 || s.timeoutSeconds > MAX_TIMEOUT_SECONDS) problems.push(`scaling: timeoutSeconds must be an integer 1..${MAX_TIMEOUT_SECONDS}`);

  if (d.routes.length > 16) problems.push(`${d.routes.length} routes: an HTTPRoute holds at most 16 rules`);
  for (const r of d.routes) {
    problems.push(...pathProblems(r));
    for (const m of r.methods ?? []) if (!HTTP_METHODS.has(m.toUpperCase())) problems.push(`route "${r.path}": unknown method ${m}`);
  }

  const seen = new Set<string>();
  for (const sub of d.subscribes ?? []) {
    if (!EVENT_TYPE.test(sub.type)) problems.push(`event type "${sub.type}" is not io.zenokube.<product>.<noun>.<verb>`);
    for (const key of Object.keys(sub.filters ?? {})) if (!CE_ATTRIBUTE.test(key)) problems.push(`subscription ${sub.type}: filter "${key}" is not a CloudEvents attribute name`);
    if (sub.filters && 'type' in sub.filters) problems.push(`subscription ${sub.type}: filter on type is implied, do not repeat it`);
    if (sub.path !== undefined && !sub.path.startsWith('/')) problems.push(`subscription ${sub.type}: path "${sub.path}" must start with /`);
    if (sub.retry !== undefined && !(Number.isInteger(sub.retry) && sub.retry >= 0)) problems.push(`subscription ${sub.type}: retry must be a non-negative integer`);
    if (sub.backoffDelay !== undefined && !ISO_DURATION.test(sub.backoffDelay)) problems.push(`subscription ${sub.type}: backoffDelay "${sub.backoffDelay}" is not an ISO 8601 duration`);
    const key = JSON.stringify([sub.type, Object.entries(sub.filters ?? {}).sort()]);
    if (seen.has(key)) problems.push(`subscription ${sub.type} is declared twice with the same filters`);
    seen.add(key);
  }

  const schedules = new Set<string>();
  for (const sch of d.schedules ?? []) {
    if (!DNS_LABEL.test(sch.name)) problems.push(`schedule "${sch.name}": name is not a DNS label`);
    if (schedules.has(sch.name)) problems.push(`schedule "${sch.name}" is declared twice`);
    schedules.add(sch.name);
    for (const p of cronProblems(sch.schedule)) problems.push(`schedule "${sch.name}": ${p}`);
    if (!(d.subscribes ?? []).some((x) => x.type === sch.type)) problems.push(`schedule "${sch.name}" fires ${sch.type}, which the function does not subscribe to`);
  }

  for (const [key, spec] of Object.entries(d.env ?? {})) {
    if (!ENV_NAME.test(key)) problems.push(`env ${key}: not a valid variable name`);
    if (RESERVED_ENV.has(key)) problems.push(`env ${key}: reserved, set by the platform`);
    if (spec.secret && spec.value !== undefined) problems.push(`env ${key}: a secret has no literal value`);
    if (spec.secret && !(SECRET_NAME.test(spec.secret.name) && spec.secret.name.length <= 253)) problems.push(`env ${key}: secret name "${spec.secret.name}" is not a DNS subdomain`);
    if (spec.secret && !SECRET_KEY.test(spec.secret.key)) problems.push(`env ${key}: secret key "${spec.secret.key}" is not a valid key`);
    if (spec.service !== undefined && (spec.secret || spec.value !== undefined)) problems.push(`env ${key}: a service URL has no other source`);
  }
  problems.push(...runtimeProblems(d.runtime, defaultLimits).map((p) => `runtime: ${p}`));
  return problems.map((p) => `${d.name || '(unnamed)'}: ${p}`);
}

/**
 * Throws a ManifestError listing every problem of every declaration (and clashes between them).
 * `defaultLimits` are the container limits of a function that declares none (ManifestOptions).
 */
export function checkDeclarations(decls: readonly FunctionDeclaration[], defaultLimits: ResourceQuantities = {}): void {
  const problems = decls.flatMap((d) => checkFunction(d, defaultLimits));
  const names = new Set<string>();
  const routes = new Map<string, string>();
  for (const d of decls) {
    if (names.has(d.name)) problems.push(`${d.name}: declared twice`);
    names.add(d.name);
    for (const [key, spec] of Object.entries(d.env ?? {})) {
      const target = spec.service === undefined ? undefined : decls.find((x) => x.name === spec.service);
      if (spec.service !== undefined && !target?.longRunning) problems.push(`${d.name}: env ${key} names ${spec.service}, which is no declared long-running function`);
    }
    for (const r of d.routes) {
      for (const m of r.methods?.length ? r.methods.map((x) => x.toUpperCase()) : ['*']) {
        const key = `${r.match ?? 'PathPrefix'} ${r.path} ${m}`;
        const other = routes.get(key);
        if (other && other !== d.name) problems.push(`${d.name}: route ${key} is already declared by ${other}`);
        routes.set(key, d.name);
      }
    }
  }
  if (problems.length) throw new ManifestError(problems);
}
