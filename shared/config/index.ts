// Platform configuration: read from the environment once at boot, validated, frozen, passed down.
import { z } from 'zod';

/** Raised at boot when the environment is invalid; lists every bad variable at once. */
export class ConfigError extends Error {
  readonly issues: readonly string[];
  constructor(issues: string[]) {
    super(`invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

const port = z.coerce.number().int().min(0).max(65535);

const platformSchema = z.object({
  PORT: port.default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  ZENO_DATA_DIR: z.string().min(1).default('.zenokube'),
  ZENO_BASE_URL: z.string().url().optional(),
  ZENO_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  ZENO_BODY_LIMIT: z.coerce.number().int().positive().default(1024 * 1024),
  K_SINK: z.string().url().optional(),
  K_SERVICE: z.string().optional(),
});

export type PlatformConfig = Readonly<{
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  /** The public base URL; defaults to http://localhost:$PORT. */
  baseUrl: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  bodyLimitBytes: number;
  /** Where emitted CloudEvents go (Knative SinkBinding convention). */
  sink: string | undefined;
  serviceName: string | undefined;
}>;

type Env = Record<string, string | undefined>;

/** Parses a zod object over the environment, collecting every problem before failing. */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env): z.infer<S> {
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) cleaned[k] = v === '' ? undefined : v;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return result.data;
}

/** Reads the platform configuration from `env`. Call once at boot. */
export function loadConfig(env: Env = process.env): PlatformConfig {
  const e = parseEnv(platformSchema, env);
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.ZENO_DATA_DIR,
    baseUrl: (e.ZENO_BASE_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    logLevel: e.ZENO_LOG_LEVEL,
    bodyLimitBytes: e.ZENO_BODY_LIMIT,
    sink: e.K_SINK,
    serviceName: e.K_SERVICE,
  });
}
