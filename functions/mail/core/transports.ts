// Per-tenant transports: a tenant's own SMTP relay or Microsoft Graph app instead of the default
// relay. What is not secret is stored in clear; the SMTP password or Graph client secret is sealed
// under the config key with the tenant as associated data, and never leaves by the API.
import { eq, sql } from 'drizzle-orm';
import type { Queryable } from '#shared/db/index';
import { aad, openText, sealText } from './cipher.js';
import { MailError } from './errors.js';
import type { MailKeys } from './keys.js';
import { transports } from './schema.js';

/** `tls`: TLS from the first byte (port 465); `starttls`: STARTTLS required; `opportunistic`: STARTTLS when offered. */
export type SmtpSecurity = 'tls' | 'starttls' | 'opportunistic';

export interface SmtpTransportConfig {
  kind: 'smtp';
  host: string;
  port: number;
  security: SmtpSecurity;
  user?: string | undefined;
  password?: string | undefined;
}

export interface GraphTransportConfig {
  kind: 'graph';
  /** The Entra (Azure AD) tenant the app is registered in. */
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The user (id or user principal name) whose mailbox sends: `POST /users/{sender}/sendMail`. */
  sender: string;
  tokenUrl: string;
  graphUrl: string;
}

export type TransportConfig = SmtpTransportConfig | GraphTransportConfig;

const GRAPH_URL = 'https://graph.microsoft.com/v1.0';
const tokenUrlOf = (tenantId: string) => `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\[[0-9A-Fa-f:.]+\]$/;
// Entra tenant ids are GUIDs or verified domain names; client ids are GUIDs.
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const ENTRA_TENANT = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[A-Za-z0-9.-]{1,253})$/;
const SENDER = /^[A-Za-z0-9._%+@-]{1,256}$/;

const invalid = (detail: string) => new MailError('invalid_transport', detail);

/** An https URL, or http to a loopback peer (a test or a sidecar); secrets do not travel in clear elsewhere. */
function endpoint(name: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw invalid(`${name} is not a URL.`);
  }
  if (u.username || u.password) throw invalid(`${name} may not carry credentials.`);
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) throw invalid(`${name} must be https (http only to localhost).`);
  if (u.search || u.hash) throw invalid(`${name} takes no query or fragment.`);
  return u.href.replace(/\/$/, '');
}

/** The SMTP settings an admin sends, as given: a URL or host and port, with or without credentials. */
interface SmtpInput {
  url?: string | undefined;
  host?: string | undefined;
  port?: number | undefined;
  security?: SmtpSecurity | undefined;
  user?: string | undefined;
  password?: string | undefined;
}

/** Checks and normalises SMTP settings; every refusal says what is wrong. */
export function smtpConfig(input: SmtpInput): SmtpTransportConfig {
  let { host, port, security, user, password } = input;
  if (input.url !== undefined) {
    if (host !== undefined) throw invalid('Give url or host, not both.');
    let u: URL;
    try {
      u = new URL(input.url);
    } catch {
      throw invalid('url is not a URL.');
    }
    if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw invalid('url must be smtp://host[:port] (STARTTLS) or smtps://host[:port] (TLS).');
    if (u.pathname.replace(/^\/+/, '') || u.search || u.hash) throw invalid('url takes no path, query or fragment.');
    host = u.hostname;
    if (u.port) port ??= Number(u.port);
    security ??= u.protocol === 'smtps:' ? 'tls' : 'starttls';
    if (u.username) {
      if (user !== undefined || password !== undefined) throw invalid('Give the credentials in the url or in user/password, not both.');
      user = decodeURIComponent(u.username);
      password = decodeURIComponent(u.password);
    }
  }
  if (!host) throw invalid('An SMTP transport needs url or host.');
  if (!HOST.test(host)) throw invalid('host is not a host name or bracketed IP address.');
  security ??= 'starttls';
  port ??= security === 'tls' ? 465 : 587;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid('port must be 1 to 65535.');
  if (password !== undefined && !user) throw invalid('A password needs a user.');
  if (user !== undefined && !password) throw invalid('A user needs a password.');
  return { kind: 'smtp', host: host.toLowerCase(), port, security, ...(user ? { user, password } : {}) };
}

/** The Graph settings an admin sends. */
interface GraphInput {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  sender: string;
  tokenUrl?: string | undefined;
  graphUrl?: string | undefined;
}

/** Checks and normalises Microsoft Graph settings; the endpoints default to the public cloud. */
export function graphConfig(input: GraphInput): GraphTransportConfig {
  if (!ENTRA_TENANT.test(input.tenantId)) throw invalid('tenantId must be the Entra tenant id (a GUID) or its domain.');
  if (!GUID.test(input.clientId)) throw invalid('clientId must be the application (client) id, a GUID.');
  if (!input.clientSecret) throw invalid('clientSecret is required.');
  if (!SENDER.test(input.sender)) throw invalid('sender must be the sending user id (GUID) or user principal name.');
  return {
    kind: 'graph',
    tenantId: input.tenantId,
    clientId: input.clientId.toLowerCase(),
    clientSecret: input.clientSecret,
    sender: input.sender,
    tokenUrl: endpoint('tokenUrl', input.tokenUrl ?? tokenUrlOf(input.tenantId)),
    graphUrl: endpoint('graphUrl', input.graphUrl ?? GRAPH_URL),
  };
}

/** What GET shows: everything but the secret, and whether one is set. */
export function transportView(c: TransportConfig): Record<string, unknown> {
  if (c.kind === 'smtp') {
    const { password, ...rest } = c;
    return { type: 'smtp', ...withoutKind(rest), hasPassword: password !== undefined };
  }
  const { clientSecret: _secret, ...rest } = c;
  return { type: 'graph', ...withoutKind(rest), hasClientSecret: true };
}
const withoutKind = <T extends { kind: string }>(c: T): Omit<T, 'kind'> => {
  const { kind: _kind, ...rest } = c;
  return rest;
};

/** Stores the tenant's transport, the secret sealed. */
export async function saveTransport(db: Queryable, keys: MailKeys, tenant: string, c: TransportConfig): Promise<void> {
  const secret = c.kind === 'smtp' ? c.password : c.clientSecret;
  const settings = c.kind === 'smtp' ? { ...c, password: undefined } : { ...c, clientSecret: undefined };
  const sealed = secret === undefined ? null : sealText(keys.config, secret, aad.transportSecret(tenant));
  await db
    .insert(transports)
    .values({ tenant, kind: c.kind, settings: JSON.parse(JSON.stringify(settings)) as Record<string, unknown>, secret: sealed })
    .onConflictDoUpdate({ target: transports.tenant, set: { kind: c.kind, settings: JSON.parse(JSON.stringify(settings)) as Record<string, unknown>, secret: sealed, updatedAt: sql`now()` } });
}

/** The tenant's transport with its secret opened, and when it last changed; undefined: the default relay. */
export async function loadTransport(db: Queryable, keys: MailKeys, tenant: string): Promise<{ config: TransportConfig; updatedAt: Date } | undefined> {
  const [row] = await db.select().from(transports).where(eq(transports.tenant, tenant));
  if (!row) return undefined;
  const secret = row.secret === null ? undefined : openText(keys.config, row.secret, aad.transportSecret(tenant));
  const s = row.settings;
  const config: TransportConfig =
    row.kind === 'graph'
      ? { ...(s as unknown as Omit<GraphTransportConfig, 'clientSecret'>), kind: 'graph', clientSecret: secret ?? '' }
      : { ...(s as unknown as Omit<SmtpTransportConfig, 'password'>), kind: 'smtp', ...(secret !== undefined ? { password: secret } : {}) };
  return { config, updatedAt: row.updatedAt };
}

export async function removeTransport(db: Queryable, tenant: string): Promise<boolean> {
  return (await db.delete(transports).where(eq(transports.tenant, tenant)).returning({ tenant: transports.tenant })).length > 0;
}
