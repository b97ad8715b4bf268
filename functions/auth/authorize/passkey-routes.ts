// The passkey routes of the authorize function: the ceremony script, sign-in and the account page.
import type { Hono } from 'hono';
import type { AuthRuntime } from '../core/runtime.js';
import { accountPasskeyOptionsEndpoint, accountPasskeysEndpoint } from './account-passkeys.js';
import { passkeyLoginEndpoint, passkeyOptionsEndpoint } from './passkey-login.js';
import { passkeyScript } from './passkey-script.js';

export function passkeyRoutes(app: Hono, rt: AuthRuntime): void {
  app.get('/auth/:tenant/passkey.js', (c) => passkeyScript(c));
  app.post('/auth/:tenant/login/passkey/options', (c) => passkeyOptionsEndpoint(c, rt));
  app.post('/auth/:tenant/login/passkey', (c) => passkeyLoginEndpoint(c, rt));
  app.post('/auth/:tenant/account/passkeys/options', (c) => accountPasskeyOptionsEndpoint(c, rt));
  app.on(['GET', 'POST'], '/auth/:tenant/account/passkeys', (c) => accountPasskeysEndpoint(c, rt));
}
