// A function's runtime settings (container resources, probes, Node flags, database pool): the
// declaration's `runtime` field, checked here so that a typo fails when the declaration loads.

/** Kubernetes resource quantities: CPU as cores or millicores (`250m`, `1`), memory in bytes (`128Mi`). */
export interface ResourceQuantities {
  cpu?: string;
  memory?: string;
}

/** One probe of the container; what is left out takes the platform default. */
export interface ProbeDeclaration {
  /** HTTP path probed on the container port; must start with `/`. */
  path?: string;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
  initialDelaySeconds?: number;
}

export interface RuntimeDeclaration {
  /** Requests and limits of the function's container, over the generator's defaults key by key. */
  resources?: { requests?: ResourceQuantities; limits?: ResourceQuantities };
  /** `NODE_OPTIONS` of the container (e.g. `--max-old-space-size=96`): only flags Node accepts there. */
  nodeOptions?: string;
  /** Connections in the function's pool, rendered as `ZENO_DB_POOL_MAX` (default 10). */
  databasePool?: number;
  /** Readiness (default `/readyz`) and liveness (default `/healthz`) probes. */
  probes?: { readiness?: ProbeDeclaration; liveness?: ProbeDeclaration };
}

/** The pool size when a declaration gives none: shared/db/settings.ts's own default. */
export const DEFAULT_DATABASE_POOL = 10;
/** The same bound shared/config puts on ZENO_DB_POOL_MAX. */
const MAX_DATABASE_POOL = 100;

/**
 * A Kubernetes quantity: a decimal number with a binary (`Ki`…`Ei`) or decimal (`n`…`E`) suffix,
 * or a decimal exponent. Returns its value in base units, or undefined when it is not one.
 * @see https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 */
export function parseQuantity(q: string): number | undefined {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][-+]?\d+)?$/.exec(q);
  if (!m) return undefined;
  const n = Number(m[1]);
  const suffix = m[2] ?? '';
  if (/^[eE]/.test(suffix)) return n * 10 ** Number(suffix.slice(1));
  const binary: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  const decimal: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
  return n * (binary[suffix] ?? decimal[suffix]!);
}

function quantityProblems(where: string, q: ResourceQuantities | undefined): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(q ?? {})) {
    if (key !== 'cpu' && key !== 'memory') {
      problems.push(`${where}: unknown resource "${key}" (cpu or memory)`);
      continue;
    }
    const n = typeof value === 'string' ? parseQuantity(value) : undefined;
    if (n === undefined) problems.push(`${where}.${key}: "${String(value)}" is not a Kubernetes quantity (e.g. ${key === 'cpu' ? '250m' : '128Mi'})`);
    else if (!(n > 0)) problems.push(`${where}.${key}: must be more than zero`);
    // 128m of memory is 0.128 bytes: always a typo for 128Mi.
    else if (key === 'memory' && /\d(m|u|n)$/.test(value)) problems.push(`${where}.memory: "${value}" is a fraction of a byte; did you mean ${value.slice(0, -1)}Mi?`);
    else if (key === 'cpu' && n < 0.001) problems.push(`${where}.cpu: "${value}" is below Kubernetes' precision of 1m`);
  }
  return problems;
}

const POSITIVE = (n: unknown) => Number.isInteger(n) && (n as number) >= 1;

function probeProblems(which: string, p: ProbeDeclaration | undefined): string[] {
  if (!p) return [];
  const problems: string[] = [];
  for (const key of Object.keys(p)) {
    if (!['path', 'periodSeconds', 'timeoutSeconds', 'failureThreshold', 'initialDelaySeconds'].includes(key)) problems.push(`probes.${which}: unknown field "${key}"`);
  }
  if (p.path !== undefined && !/^\/[-A-Za-z0-9/._~%]*$/.test(p.path)) problems.push(`probes.${which}.path "${p.path}" must be an absolute path`);
  for (const key of ['periodSeconds', 'timeoutSeconds', 'failureThreshold'] as const) {
    if (p[key] !== undefined && !POSITIVE(p[key])) problems.push(`probes.${which}.${key} must be an integer >= 1`);
  }
  if (p.initialDelaySeconds !== undefined && !(Number.isInteger(p.initialDelaySeconds) && p.initialDelaySeconds >= 0)) problems.push(`probes.${which}.initialDelaySeconds must be an integer >= 0`);
  if (p.timeoutSeconds !== undefined && p.periodSeconds !== undefined && p.timeoutSeconds > p.periodSeconds) problems.push(`probes.${which}: timeoutSeconds exceeds periodSeconds`);
  return problems;
}

/** Node's `--max-old-space-size` in MiB, when the options set it. */
function heapMiB(nodeOptions: string): number | undefined {
  const m = /(?:^|\s)--max-old-space-size=(\d+)(?:\s|$)/.exec(nodeOptions);
  return m ? Number(m[1]) : undefined;
}

/**
 * What is wrong with a runtime declaration (empty when nothing). `defaultLimits` are the limits
 * the function gets when it declares none, so that a request above them is caught too.
 */
export function runtimeProblems(r: RuntimeDeclaration | undefined, defaultLimits: ResourceQuantities = {}): string[] {
  if (!r) return [];
  const problems: string[] = [];
  const requests = r.resources?.requests;
  const limits = { ...defaultLimits, ...r.resources?.limits };
  problems.push(...quantityProblems('resources.requests', requests), ...quantityProblems('resources.limits', r.resources?.limits));
  for (const key of ['cpu', 'memory'] as const) {
    const req = requests?.[key] !== undefined ? parseQuantity(requests[key]) : undefined;
    const lim = limits[key] !== undefined ? parseQuantity(limits[key]) : undefined;
    // Kubernetes refuses a Pod whose request exceeds its limit.
    if (req !== undefined && lim !== undefined && req > lim) problems.push(`resources: ${key} request ${requests![key]} exceeds its limit ${limits[key]}`);
  }
  if (r.databasePool !== undefined && !(Number.isInteger(r.databasePool) && r.databasePool >= 1 && r.databasePool <= MAX_DATABASE_POOL)) {
    problems.push(`databasePool must be an integer 1..${MAX_DATABASE_POOL}`);
  }
  if (r.nodeOptions !== undefined) {
    const flags = r.nodeOptions.trim().split(/\s+/).filter(Boolean);
    if (!flags.length) problems.push('nodeOptions is empty; leave it out instead');
    for (const flag of flags) {
      // NODE_OPTIONS takes only the flags Node lists here; any other makes node refuse to start.
      // https://nodejs.org/api/process.html#processallowednodeenvironmentflags
      if (!process.allowedNodeEnvironmentFlags.has(flag.split('=')[0]!)) problems.push(`nodeOptions: ${flag} is not allowed in NODE_OPTIONS`);
    }
    const heap = heapMiB(r.nodeOptions);
    const memory = limits.memory !== undefined ? parseQuantity(limits.memory) : undefined;
    if (heap !== undefined && memory !== undefined && heap * 2 ** 20 >= memory) problems.push(`nodeOptions: --max-old-space-size=${heap} leaves no room under the memory limit ${limits.memory}`);
  }
  problems.push(...probeProblems('readiness', r.probes?.readiness), ...probeProblems('liveness', r.probes?.liveness));
  for (const key of Object.keys(r.probes ?? {})) if (key !== 'readiness' && key !== 'liveness') problems.push(`probes: unknown probe "${key}" (readiness or liveness)`);
  return problems;
}
