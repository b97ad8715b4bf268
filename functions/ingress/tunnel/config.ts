// The tunnel's configuration files (YAML or JSON), for the edge and for the agent, validated once
// at start with every problem listed; file paths are read here, so the rest gets PEM and secrets.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

const address = z.string().regex(/^[^\s]+:\d{1,5}$/, 'HOST:PORT');
const hostname = z.string().regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'a lower-case hostname (or *.domain)');

const EdgeFile = z.strictObject({
  agents: z.strictObject({ listen: address, certFile: z.string(), keyFile: z.string(), clientCaFile: z.string().optional() }),
  users: z.strictObject({
    listen: address,
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    /** Cleartext: HTTP/2 by prior knowledge too (h2c). */
    h2c: z.boolean().optional(),
    /** HTTP/2: streams one connection may have open at once. */
    maxConcurrentStreams: z.number().int().min(1).max(10_000).optional(),
    /** Time to receive a whole request, body included. */
    requestTimeoutSeconds: z.number().int().min(1).max(3600).optional(),
  }),
  issuer: z.url(),
  jwksUrl: z.url().optional(),
  audience: z.string().optional(),
  clients: z.record(z.string().min(1), z.array(hostname).min(1)),
  admin: address.optional(),
  keepAliveSeconds: z.number().int().min(0).max(3600).optional(),
});

const AgentFile = z.strictObject({
  edges: z.array(z.strictObject({ address, caFile: z.string().optional(), servername: z.string().optional(), certFile: z.string().optional(), keyFile: z.string().optional() })).min(1),
  /** Absent: the hostnames the listener's routes serve, kept up to date as they change. */
  hostnames: z.array(hostname).min(1).optional(),
  /** The gateway listener the streams are served as: `namespace/name:port`. */
  listener: z.string().regex(/^[a-z0-9-]+\/[a-z0-9.-]+:\d{1,5}$/, 'namespace/name:port'),
  token: z.strictObject({ url: z.url(), clientId: z.string().min(1), clientSecretFile: z.string(), resource: z.string().optional() }),
  admin: address.optional(),
  keepAliveSeconds: z.number().int().min(0).max(3600).optional(),
});

type EdgeConfig = z.infer<typeof EdgeFile>;
type AgentConfig = z.infer<typeof AgentFile>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function load<T>(file: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, [(err as Error).message]);
  }
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(file, result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  return result.data;
}

export const loadEdgeConfig = (file: string): EdgeConfig => load(file, EdgeFile);
export const loadAgentConfig = (file: string): AgentConfig => load(file, AgentFile);

/** `host:port` → parts (the last colon splits, so `[::1]:80` works without its brackets). */
export function splitAddress(a: string): { host: string; port: number } {
  const i = a.lastIndexOf(':');
  return { host: a.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(a.slice(i + 1)) };
}

/** A file's text, or undefined when no path is given. */
export function readOptional(path: string | undefined): string | undefined {
  return path === undefined ? undefined : readFileSync(path, 'utf8');
}
