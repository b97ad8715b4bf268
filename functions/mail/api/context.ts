// What the routes of mail-api share: database, publisher, keys, the token check, limits.
import type { Context } from 'hono';
import type { Database } from '#shared/db/index';
import type { EventPublisher } from '#shared/events/publisher';
import type { AppEnv } from '#shared/http/app';
import { notFound } from '#shared/http/errors';
import type { MailKeys } from '../core/keys.js';
import type { MailScope, TokenCheck } from './token-check.js';

export interface ApiDeps {
  database: Database;
  events: EventPublisher;
  keys: MailKeys;
  check: TokenCheck;
  systemSenderDomains: readonly string[];
  maxAttachmentBytes: number;
  baseUrl: string;
  /** The client address as the trusted proxies forwarded it. */
  sourceIp(c: Context<AppEnv>): string | undefined;
}

const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The tenant of the path, checked, and the caller's subject once the token grants `need`. */
export async function authorize(deps: ApiDeps, c: Context<AppEnv>, need: MailScope): Promise<{ tenant: string; actor: string }> {
  const tenant = c.req.param('tenant') ?? '';
  if (!TENANT.test(tenant)) throw notFound('No such tenant.');
  const { sub } = await deps.check(c.req.header('authorization'), tenant, need);
  return { tenant, actor: sub };
}
