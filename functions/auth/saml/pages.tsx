// The pages of the SAML endpoints: the auto-posting form that carries a message to an SP (SAML
// Bindings §3.5.4; one script, allowed by its nonce, and a button without scripts), and the page
// that ends a session at every SP (front-channel: one frame per SP's LogoutRequest, loaded from its
// URL or posted into the frame by a form).
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { LogoutFrame } from '../core/saml/logout-frames.js';
import { Layout } from '../authorize/pages/layout.js';
import { renderPage } from '../authorize/pages/render.js';

const headers = (nonce: string, frames = false) => ({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; ${frames ? 'frame-src *; ' : ''}frame-ancestors 'none'; base-uri 'none'`,
});

/** An HTML form that posts `SAMLResponse` or `SAMLRequest` (base64) and RelayState to `action`. */
export function sendPostForm(c: Context, action: string, param: 'SAMLResponse' | 'SAMLRequest', xml: string, relayState: string | undefined): Response {
  const nonce = randomBytes(16).toString('base64');
  const page = (
    <Layout title="Signing in">
      <h1>Continue</h1>
      <form method="post" action={action}>
        <input type="hidden" name={param} value={Buffer.from(xml, 'utf8').toString('base64')} />
        {relayState !== undefined ? <input type="hidden" name="RelayState" value={relayState} /> : null}
        <noscript>
          <p class="muted">Scripts are off: press the button to continue.</p>
        </noscript>
        <button type="submit">Continue</button>
      </form>
      <script nonce={nonce}>{'document.forms[0].submit()'}</script>
    </Layout>
  );
  return c.html(renderPage(page), 200, headers(nonce));
}

/**
 * Signed out: frames load each other SP's LogoutRequest (a URL, or a form the page's script posts
 * into the frame); then `next` (the initiator's LogoutResponse) or nothing.
 */
export function sendLogoutPage(c: Context, frames: LogoutFrame[], next: { url: string } | { form: { action: string; param: 'SAMLResponse'; xml: string; relayState: string | undefined } } | undefined): Response {
  const nonce = randomBytes(16).toString('base64');
  const posted = frames.filter((f) => typeof f !== 'string');
  const page = (
    <Layout title="Signed out">
      <h1>You are signed out</h1>
      {frames.map((f, i) =>
        typeof f === 'string' ? (
          <iframe src={f} width="0" height="0" style="border:0" title="signing out" />
        ) : (
          <>
            <iframe name={`slo-${i}`} width="0" height="0" style="border:0" title="signing out" />
            <form method="post" action={f.action} target={`slo-${i}`} data-slo="" hidden>
              <input type="hidden" name={f.param} value={Buffer.from(f.xml, 'utf8').toString('base64')} />
            </form>
          </>
        ),
      )}
      {posted.length ? (
        <noscript>
          <p class="muted">Scripts are off: some applications could not be told that you signed out.</p>
        </noscript>
      ) : null}
      {next && 'url' in next ? (
        <p>
          <a id="next" href={next.url}>
            Return to the application
          </a>
        </p>
      ) : null}
      {next && 'form' in next ? (
        <form id="next" method="post" action={next.form.action}>
          <input type="hidden" name={next.form.param} value={Buffer.from(next.form.xml, 'utf8').toString('base64')} />
          {next.form.relayState !== undefined ? <input type="hidden" name="RelayState" value={next.form.relayState} /> : null}
          <button type="submit">Return to the application</button>
        </form>
      ) : null}
      {next || posted.length ? <script nonce={nonce}>{logoutScript(next ? ('url' in next ? 'link' : 'form') : undefined, frames.length > 0)}</script> : null}
    </Layout>
  );
  return c.html(renderPage(page), 200, headers(nonce, frames.length > 0));
}

/** Posts the frames' forms, then (after the frames had time to load) goes on to the next step. */
function logoutScript(next: 'link' | 'form' | undefined, waitForFrames: boolean): string {
  const post = "document.querySelectorAll('form[data-slo]').forEach(function(f){f.submit()});";
  if (!next) return post;
  const go = next === 'link' ? "location.href=document.getElementById('next').href" : "document.getElementById('next').submit()";
  return `${post}setTimeout(function(){${go}},${waitForFrames ? 1500 : 0})`;
}
