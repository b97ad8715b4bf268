// The authorize function's app: authorization endpoint, PAR, sign-in, consent and logout.
import { Hono } from 'hono';
import type { FunctionContext } from '#shared/function/define';
import { loadPasswordPolicy, type PasswordPolicy } from '../core/password-policy.js';
import { createAuthRuntime, type AuthRuntime } from '../core/runtime.js';
import { accountSessionsEndpoint } from './account-sessions.js';
import { authorizeEndpoint } from './authorize-endpoint.js';
import { consentEndpoint } from './consent.js';
import { deviceConfirmEndpoint, deviceEndpoint } from './device.js';
import { loginEndpoint } from './login.js';
import { loginCounters, type LoginCounters } from './login-metrics.js';
import { logoutEndpoint } from './logout.js';
import { parEndpoint } from './par.js';
import { passkeyRoutes } from './passkey-routes.js';
import { forgotPasswordEndpoint, resetPasswordEndpoint } from './password-reset.js';
import { totpSecondFactor, type SecondFactorPolicy } from './second-factor.js';
import { secondFactorEndpoint } from './second-factor-endpoint.js';
import { accountTotpEndpoint } from './account-totp.js';
import { accountEmailEndpoint } from './account-email.js';
import { accountPasswordEndpoint } from './account-password.js';
import { verifyEmailEndpoint } from './email-verify.js';
import { signupEndpoint } from './signup.js';

export async function createApp(ctx: FunctionContext): Promise<Hono> {
  const rt = await createAuthRuntime(ctx);
  const passwords = await loadPasswordPolicy(ctx.env);
  return buildAuthorizeApp(rt, totpSecondFactor(rt), loginCounters(ctx.metrics), passwords);
}

export function buildAuthorizeApp(rt: AuthRuntime, secondFactor: SecondFactorPolicy, logins: LoginCounters, passwords: PasswordPolicy): Hono {
  const app = new Hono();
  app.on(['GET', 'POST'], '/auth/:tenant/authorize', (c) => authorizeEndpoint(c, rt));
  app.post('/auth/:tenant/par', (c) => parEndpoint(c, rt));
  app.post('/auth/:tenant/login', (c) => loginEndpoint(c, rt, secondFactor, logins));
  app.post('/auth/:tenant/login/second-factor', (c) => secondFactorEndpoint(c, rt));
  app.post('/auth/:tenant/consent', (c) => consentEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/device', (c) => deviceEndpoint(c, rt));
  app.post('/auth/:tenant/device/confirm', (c) => deviceConfirmEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/logout', (c) => logoutEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/account/sessions', (c) => accountSessionsEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/account/totp', (c) => accountTotpEndpoint(c, rt));
  passkeyRoutes(app, rt);
  app.on(['GET', 'POST'], '/auth/:tenant/password/forgot', (c) => forgotPasswordEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/password/reset', (c) => resetPasswordEndpoint(c, rt, passwords));
  app.on(['GET', 'POST'], '/auth/:tenant/signup', (c) => signupEndpoint(c, rt, passwords));
  app.on(['GET', 'POST'], '/auth/:tenant/email/verify', (c) => verifyEmailEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/account/email', (c) => accountEmailEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/account/password', (c) => accountPasswordEndpoint(c, rt, passwords));
  return app;
}
