// GET {issuer}/passkey.js: the one script of the sign-in pages. It runs the WebAuthn ceremony of a
// form marked data-passkey ("get" or "create"): fetches the options from data-options with the
// form's fields, calls navigator.credentials, puts the answer (PublicKeyCredential JSON) in the
// form's `credential` field and submits it. Without scripts or WebAuthn the forms stay hidden.
import type { Context } from 'hono';

const SCRIPT = `'use strict';
(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  const enc = (buf) => { let s = ''; for (const b of new Uint8Array(buf)) s += String.fromCharCode(b); return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''); };
  const dec = (str) => { const s = atob(str.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((str.length + 3) % 4)); const out = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out.buffer; };
  const creds = (list) => (list || []).map((c) => Object.assign({}, c, { id: dec(c.id) }));
  const answer = (cred, kind) => {
    const r = cred.response;
    const response = { clientDataJSON: enc(r.clientDataJSON) };
    if (kind === 'create') {
      response.attestationObject = enc(r.attestationObject);
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      response.authenticatorData = enc(r.authenticatorData);
      response.signature = enc(r.signature);
      if (r.userHandle) response.userHandle = enc(r.userHandle);
    }
    return JSON.stringify({ id: cred.id, rawId: enc(cred.rawId), type: cred.type, response, clientExtensionResults: cred.getClientExtensionResults(), authenticatorAttachment: cred.authenticatorAttachment || undefined });
  };
  for (const form of document.querySelectorAll('form[data-passkey]')) {
    const kind = form.dataset.passkey;
    const error = form.querySelector('[data-passkey-error]');
    const fail = (text) => { if (error) { error.textContent = text; error.hidden = false; } };
    form.hidden = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const fields = new FormData(form);
      fields.delete('credential');
      let options;
      try {
        const res = await fetch(form.dataset.options, { method: 'POST', body: new URLSearchParams(fields), credentials: 'same-origin' });
        if (!res.ok) return fail('This page has expired. Reload it and try again.');
        options = await res.json();
      } catch { return fail('The server could not be reached. Try again.'); }
      let cred;
      try {
        if (kind === 'create') {
          options.challenge = dec(options.challenge);
          options.user.id = dec(options.user.id);
          options.excludeCredentials = creds(options.excludeCredentials);
          cred = await navigator.credentials.create({ publicKey: options });
        } else {
          options.challenge = dec(options.challenge);
          options.allowCredentials = creds(options.allowCredentials);
          cred = await navigator.credentials.get({ publicKey: options });
        }
      } catch { return fail('The passkey was not used. Try again, or use another way to sign in.'); }
      if (!cred) return fail('No passkey was chosen.');
      form.elements.credential.value = answer(cred, kind);
      form.submit();
    });
  }
})();
`;

export function passkeyScript(c: Context): Response {
  return c.body(SCRIPT, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=300', 'x-content-type-options': 'nosniff' });
}
