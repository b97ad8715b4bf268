// mail-api: ZenoMail's public API at {base}/mail/{tenant}/v1/….
import { defineFunction } from '#shared/function/define';
import { MAIL_KEY_ENV } from '../core/env.js';

export default defineFunction({
  name: 'mail-api',
  product: 'mail',
  description: 'ZenoMail API: send (scope mail:send), message status and history, data-subject erasure, senders and templates (scope mail:admin).',
  routes: [{ path: '/mail', match: 'PathPrefix' }],
  scaling: { minScale: 0, maxScale: 5, containerConcurrency: 0, target: 100, timeoutSeconds: 30 },
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    databasePool: 5,
  },
  emits: ['io.zenokube.mail.message.queued', 'io.zenokube.mail.subject.erased'],
  subscribes: [{ type: 'io.zenokube.auth.user.deleted' }, { type: 'io.zenokube.auth.mail.requested' }],
  env: {
    ...MAIL_KEY_ENV,
    ZENO_MAIL_SENDER_DOMAINS: { description: 'Comma-separated sender domains verified for tenant system (e.g. example.com)' },
    ZENO_MAIL_ACCOUNT_FROM: { description: "Sender of ZenoAuth's account mails (default no-reply@ the tenant's first verified sender domain)" },
    ZENO_MAIL_ISSUER_BASE: { description: 'Where tenant issuers live: the issuer of tenant t is <base>/t (default <ZENO_BASE_URL>/auth).' },
    ZENO_MAIL_JWKS_BASE: { description: 'Where their keys are fetched, <base>/t/jwks, e.g. http://auth-oidc.<namespace>.svc.cluster.local/auth (default the issuer base).' },
    ZENO_MAIL_MAX_ATTACHMENT_BYTES: { description: 'Largest total of attachments in one message, in bytes (the body limit ZENO_BODY_LIMIT applies first).', value: '10485760' },
  },
  load: () => import('./app.js'),
});
