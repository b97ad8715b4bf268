// Which transport and which DKIM keys carry a tenant's mail: its own (SMTP relay or Microsoft
// Graph, from the admin API) or the default relay of the configuration. Built transports are kept
// per tenant and rebuilt when the tenant's settings change.
import type { Database } from '#shared/db/index';
import { openDkimKeys } from '../core/dkim-keys.js';
import type { MailKeys } from '../core/keys.js';
import { loadTransport, type TransportConfig } from '../core/transports.js';
import type { DkimKeyFor } from './dkim.js';
import { createGraphTransport } from './graph.js';
import { createSmtpTransport, type MailTransport } from './transport.js';

/** How one tenant's messages leave. */
export interface Route {
  transport: MailTransport;
  dkimFor: DkimKeyFor;
}

interface RouterOptions {
  database: Database;
  keys: MailKeys;
  /** The default relay (ZENO_MAIL_SMTP_URL). */
  fallback: MailTransport;
  /** The configured key (ZENO_MAIL_DKIM_*), used where the tenant has none for the domain. */
  fallbackDkim: DkimKeyFor;
  smtpPool: number;
}

interface Router {
  /** Looks the tenant's settings up (call once per claimed batch, not per message). */
  routeFor(tenant: string): Promise<Route>;
  close(): void;
}

export function createRouter(opts: RouterOptions): Router {
  const built = new Map<string, { stamp: number; transport: MailTransport }>();
  const build = (c: TransportConfig): MailTransport =>
    c.kind === 'graph' ? createGraphTransport({ config: c }) : createSmtpTransport({ relay: c, maxConnections: opts.smtpPool });

  async function transportOf(tenant: string): Promise<MailTransport> {
    const t = await loadTransport(opts.database.db, opts.keys, tenant);
    const current = built.get(tenant);
    if (!t) {
      if (current) {
        current.transport.close();
        built.delete(tenant);
      }
      return opts.fallback;
    }
    if (current && current.stamp === t.updatedAt.getTime()) return current.transport;
    // The batch that used the old one has finished (the worker waits for a batch before the next).
    current?.transport.close();
    const transport = build(t.config);
    built.set(tenant, { stamp: t.updatedAt.getTime(), transport });
    return transport;
  }

  return {
    async routeFor(tenant) {
      const transport = await transportOf(tenant);
      const own = await openDkimKeys(opts.database.db, opts.keys, tenant);
      // RFC 6376 §3.5 d=: the signing domain is the From domain or a parent of it; the longest match signs.
      own.sort((a, b) => b.domain.length - a.domain.length);
      const dkimFor: DkimKeyFor = (fromDomain) => {
        const k = own.find((x) => fromDomain === x.domain || fromDomain.endsWith(`.${x.domain}`));
        return k ? { domainName: k.domain, keySelector: k.selector, privateKey: k.privateKey } : opts.fallbackDkim(fromDomain);
      };
      return { transport, dkimFor };
    },
    close() {
      for (const b of built.values()) b.transport.close();
      built.clear();
    },
  };
}
