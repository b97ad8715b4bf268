// mail-deliver: delivers ZenoMail's queued messages over SMTP (pooled), with retries and suppression.
import { defineFunction } from '#shared/function/define';
import { MAIL_KEY_ENV } from '../core/env.js';

export default defineFunction({
  name: 'mail-deliver',
  product: 'mail',
  description: 'ZenoMail delivery: sends queued messages over pooled SMTP or Microsoft Graph (per tenant), retries temporary failures with backoff, records bounces and suppresses hard-bounced addresses.',
  routes: [],
  // Deliveries outlive the request that woke them: keep a pod a while, one is plenty on one site.
  scaling: { minScale: 0, maxScale: 3, containerConcurrency: 0, target: 50, timeoutSeconds: 300 },
  runtime: {
    resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '384Mi' } },
    databasePool: 4,
  },
  subscribes: [{ type: 'io.zenokube.mail.message.queued' }, { type: 'io.zenokube.mail.delivery.scheduled', retry: 2 }],
  schedules: [{ name: 'mail-delivery', schedule: '* * * * *', type: 'io.zenokube.mail.delivery.scheduled' }],
  env: {
    ...MAIL_KEY_ENV,
    ZENO_MAIL_SMTP_URL: { description: 'The SMTP relay: smtp://[user:pass@]host:port (STARTTLS when offered) or smtps://… (implicit TLS).', value: 'smtp://127.0.0.1:2525' },
    ZENO_MAIL_SMTP_POOL: { description: 'Pooled SMTP connections per pod.', value: '5' },
    ZENO_MAIL_CONCURRENCY: { description: 'Messages in flight per pod.', value: '8' },
    ZENO_MAIL_DOMAIN_CONCURRENCY: { description: 'Messages in flight per pod to one recipient domain.', value: '4' },
    ZENO_MAIL_RETRY_BASE_SECONDS: { description: 'First retry delay after a temporary failure; doubles per attempt, capped at an hour.', value: '30' },
    ZENO_MAIL_DKIM_DOMAIN: { description: 'DKIM signing domain (d=); messages from it or its subdomains are signed.' },
    ZENO_MAIL_DKIM_SELECTOR: { description: 'DKIM selector (s=): the public key is published at <selector>._domainkey.<domain>.' },
    ZENO_MAIL_DKIM_PRIVATE_KEY: { description: 'DKIM RSA private key (PEM, at least 1024 bits, 2048 advised).', secret: { name: 'zeno-mail', key: 'dkim-private-key' } },
    ZENO_MAIL_RETRY_HORIZON_SECONDS: { description: 'After this long since acceptance a temporary failure becomes final.', value: '86400' },
  },
  load: () => import('./app.js'),
});
