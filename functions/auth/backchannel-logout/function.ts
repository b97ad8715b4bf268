// auth-backchannel-logout: when a browser session ends, each client that got tokens in it and
// registered a backchannel_logout_uri is sent a signed logout token (OIDC Back-Channel Logout 1.0),
// one event per client, retried with backoff until it lands in the dead letters.
import { defineFunction } from '#shared/function/define';
import { AUTH_ENV } from '../core/env.js';

export default defineFunction({
  name: 'auth-backchannel-logout',
  product: 'auth',
  description: 'ZenoAuth back-channel logout: signed logout tokens POSTed to the clients of an ended session, retried, then dead-lettered.',
  routes: [],
  scaling: { minScale: 0, maxScale: 2, containerConcurrency: 0, target: 50, timeoutSeconds: 60 },
  emits: ['io.zenokube.auth.backchannel-logout.requested'],
  runtime: {
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
    // A delivery holds its inbox transaction while the client answers: room for the key loads beside it.
    databasePool: 4,
  },
  subscribes: [
    { type: 'io.zenokube.auth.session.revoked', retry: 5 },
    // A client that is down gets about 4 minutes (2, 4 … 64 s); then the event is a dead letter.
    { type: 'io.zenokube.auth.backchannel-logout.requested', retry: 6, backoffDelay: 'PT1S' },
  ],
  env: {
    ...AUTH_ENV,
    ZENO_AUTH_BACKCHANNEL_LOGOUT_TIMEOUT_MS: {
      description: 'how long a client has to answer a logout token before the attempt counts as failed (milliseconds, default 5000)',
      value: '5000',
    },
  },
  load: () => import('./app.js'),
});
