// Platform configuration: read from the environment once at boot, validated, frozen, passed down.
// The platform's own variables are checked by hand, so that a function's cold start does not load
// zod unless the function itself uses it.
import { isIP } from 'node:net';
import { DEFAULT_DATABASE_SETTINGS, settingsProblems, type DatabaseSettings } from '#shared/db/settings';

/** Raised at boot when the environment is invalid; lists every bad variable at once. */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export type PlatformConfig = Readonly<{
  port: number;
  host: string;
  databaseUrl: string | undefined;
  /**
   * Where LISTEN connects (`ZENO_DB_LISTEN_URL`), when `databaseUrl` names a transaction-mode
   * pooler: a pooler hands each transaction any server connection, so a LISTEN made through it
   * hears nothing. Unset: LISTEN uses `databaseUrl`.
   */
  databaseListenUrl: string | undefined;
  /** Pool size, pool wait deadline, server-side timeouts and the stall liveness threshold. */
  database: DatabaseSettings;
  dataDir: string;
  /** The public base URL; defaults to http://localhost:$PORT. */
  baseUrl: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  bodyLimitBytes: number;
  /** Where emitted CloudEvents go (Knative SinkBinding convention). */
  sink: string | undefined;
  serviceName: string | undefined;
  /**
   * Peers whose X-Forwarded-For hops are believed (`ZENO_TRUSTED_PROXIES`: addresses and CIDR
   * ranges, comma-separated): the ingress, and whatever proxies sit between it and the function.
   * Default: loopback only (the local runner's ingress, a pod's own sidecar). See
   * shared/http/client-address.ts.
   */
  trustedProxies: readonly string[];
}>;

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** The variable of each database setting. */
const DATABASE_VARIABLES: Record<keyof DatabaseSettings, string> = {
  poolMax: 'ZENO_DB_POOL_MAX',
  poolWaitMs: 'ZENO_DB_POOL_WAIT_MS',
  statementTimeoutMs: 'ZENO_DB_STATEMENT_TIMEOUT_MS',
  idleInTransactionTimeoutMs: 'ZENO_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS',
  stallLivenessMs: 'ZENO_DB_STALL_LIVENESS_MS',
  prepare: 'ZENO_DB_PREPARE',
};

/** An hour: no wait or timeout of the data layer is meant to be longer. */
const HOUR_MS = 3_600_000;

function databaseSettings(issues: string[], get: (key: string) => string | undefined): DatabaseSettings {
  const d = DEFAULT_DATABASE_SETTINGS;
  const v = DATABASE_VARIABLES;
  const before = issues.length;
  const s: DatabaseSettings = {
    poolMax: integer(issues, v.poolMax, get(v.poolMax), d.poolMax, 1, 1000),
    poolWaitMs: integer(issues, v.poolWaitMs, get(v.poolWaitMs), d.poolWaitMs, 10, HOUR_MS),
    // Both server timeouts must be set: 0 (off) would let one stuck session hold a connection for good.
    statementTimeoutMs: integer(issues, v.statementTimeoutMs, get(v.statementTimeoutMs), d.statementTimeoutMs, 10, HOUR_MS),
    idleInTransactionTimeoutMs: integer(issues, v.idleInTransactionTimeoutMs, get(v.idleInTransactionTimeoutMs), d.idleInTransactionTimeoutMs, 10, HOUR_MS),
    stallLivenessMs: integer(issues, v.stallLivenessMs, get(v.stallLivenessMs), d.stallLivenessMs, 10, 24 * HOUR_MS),
    prepare: boolean(issues, v.prepare, get(v.prepare), d.prepare),
  };
  // How they hold together is judged only when each one is valid alone.
  if (issues.length === before) issues.push(...settingsProblems(s, v));
  return Object.freeze(s);
}

function integer(issues: string[], name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    issues.push(`${name}: must be an integer from ${min} to ${max}`);
    return fallback;
  }
  return n;
}

function boolean(issues: string[], name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  issues.push(`${name}: must be true or false`);
  return fallback;
}

function url(issues: string[], name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    new URL(raw);
    return raw;
  } catch {
    issues.push(`${name}: must be a URL`);
    return undefined;
  }
}

/** Loopback: on one machine the ingress, in a pod its sidecar (Knative's queue-proxy). */
const DEFAULT_TRUSTED_PROXIES: readonly string[] = Object.freeze(['127.0.0.0/8', '::1']);

function trustedProxies(issues: string[], raw: string | undefined): readonly string[] {
  if (raw === undefined) return DEFAULT_TRUSTED_PROXIES;
  const entries = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  for (const e of entries) {
    const [address, bits, rest] = e.split('/');
    const family = isIP(address ?? '');
    const badBits = bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 6 ? 128 : 32));
    if (family === 0 || rest !== undefined || badBits) issues.push(`ZENO_TRUSTED_PROXIES: "${e.slice(0, 60)}" is not an IP address or CIDR range`);
  }
  return Object.freeze(entries);
}

/** Reads the platform configuration from `env`. Call once at boot. */
export function loadConfig(env: Env = process.env): PlatformConfig {
  const get = (key: string) => (env[key] === '' ? undefined : env[key]);
  const issues: string[] = [];
  const port = integer(issues, 'PORT', get('PORT'), 8080, 0, 65535);
  const databaseUrl = get('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) issues.push('DATABASE_URL: must be a postgres:// or postgresql:// URL');
  const databaseListenUrl = get('ZENO_DB_LISTEN_URL');
  if (databaseListenUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseListenUrl)) issues.push('ZENO_DB_LISTEN_URL: must be a postgres:// or postgresql:// URL');
  else if (databaseListenUrl !== undefined && databaseUrl === undefined) issues.push('ZENO_DB_LISTEN_URL: needs DATABASE_URL');
  const baseUrl = url(issues, 'ZENO_BASE_URL', get('ZENO_BASE_URL'));
  const logLevel = get('ZENO_LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) issues.push(`ZENO_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);
  const bodyLimitBytes = integer(issues, 'ZENO_BODY_LIMIT', get('ZENO_BODY_LIMIT'), 1024 * 1024, 1, Number.MAX_SAFE_INTEGER);
  const sink = url(issues, 'K_SINK', get('K_SINK'));
  const database = databaseSettings(issues, get);
  const proxies = trustedProxies(issues, get('ZENO_TRUSTED_PROXIES'));
  if (issues.length) throw new ConfigError(issues);
  return Object.freeze({
    port,
    host: get('HOST') ?? '0.0.0.0',
    databaseUrl,
    databaseListenUrl,
    database,
    dataDir: get('ZENO_DATA_DIR') ?? '.zenokube',
    baseUrl: (baseUrl ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    logLevel: logLevel as PlatformConfig['logLevel'],
    bodyLimitBytes,
    sink,
    serviceName: get('K_SERVICE'),
    trustedProxies: proxies,
  });
}
