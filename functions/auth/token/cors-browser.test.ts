// A single-page app on another origin completes authorization code + PKCE in Chromium: the page's
// own script redeems the code at the token endpoint and reads UserInfo across origins (CORS,
// web/cors.ts); a page on an origin the client does not allow cannot read the token endpoint,
// and its attempt spends nothing.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { startAuthHarness, type AuthHarness } from '../testing/harness.js';
import { launchChromium } from '../testing/chromium.js';
import { makeClient, makeTenant, makeUser } from '../testing/fixtures.js';

/** The app's pages: /cb redeems the code in the browser and shows what it read. */
function spaPage(tokenUrl: string, userinfoUrl: string, verifier: string): string {
  return `<!doctype html><title>spa</title><pre id="out"></pre><script>
    (async () => {
      const out = document.getElementById('out');
      let step = 'token';
      try {
        const code = new URLSearchParams(location.search).get('code');
        const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: location.origin + '/cb', client_id: 'spa', code_verifier: ${JSON.stringify(verifier)} });
        const tokenRes = await fetch(${JSON.stringify(tokenUrl)}, { method: 'POST', body });
        const tokens = await tokenRes.json();
        step = 'userinfo after ' + tokenRes.status + ' ' + JSON.stringify(tokens);
        // Authorization is not a safelisted field: this request is preflighted.
        const info = await fetch(${JSON.stringify(userinfoUrl)}, { headers: { authorization: 'Bearer ' + tokens.access_token } });
        out.textContent = JSON.stringify({ status: tokenRes.status, id_token: tokens.id_token, userinfo: await info.json() });
      } catch (err) {
        out.textContent = JSON.stringify({ failed: step + ': ' + String(err) });
      }
      document.title = 'done';
    })();
  </script>`;
}

describe('a single-page app on another origin, in Chromium (CORS, PKCE)', () => {
  let tdb: TestDatabase;
  let h: AuthHarness;
  let browser: Browser;
  let page: Page;
  let spa: Server;
  let spaOrigin: string;
  let other: Server;
  let otherOrigin: string;
  /** While set, the app's callback page holds the code without running its script. */
  let hold = false;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');

  const serve = async (handler: (url: URL) => string): Promise<{ server: Server; origin: string }> => {
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(handler(new URL(req.url ?? '/', 'http://x')));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  };

  before(async () => {
    tdb = await createTestDatabase();
    h = await startAuthHarness(tdb.database, { listen: true });
    ({ server: spa, origin: spaOrigin } = await serve(() => (hold ? '<!doctype html><title>held</title>' : spaPage(`${h.baseUrl}/auth/acme/token`, `${h.baseUrl}/auth/acme/userinfo`, verifier))));
    // Another origin's page, which tries to redeem the code it is given.
    ({ server: other, origin: otherOrigin } = await serve(
      (url) => `<!doctype html><title>other</title><script>
        fetch(${JSON.stringify(`${h.baseUrl}/auth/acme/token`)}, { method: 'POST', body: new URLSearchParams({ grant_type: 'authorization_code', code: ${JSON.stringify(url.searchParams.get('code') ?? '')}, redirect_uri: ${JSON.stringify(`${spaOrigin}/cb`)}, client_id: 'spa', code_verifier: ${JSON.stringify(verifier)} }) })
          .then((r) => r.text().then((t) => 'read ' + r.status + ' ' + t), (err) => 'failed ' + err)
          .then((t) => { document.title = t; });
      </script>`,
    ));
    const tenant = await makeTenant(tdb.database.db, 'acme');
    await makeUser(tdb.database.db, tenant, { username: 'alice', password: 'correct horse battery' });
    await makeClient(tdb.database.db, tenant, { client_id: 'spa', redirect_uris: [`${spaOrigin}/cb`], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], scope: 'openid profile', first_party: true });
    browser = await launchChromium();
    page = await (await browser.newContext()).newPage();
  });
  after(async () => {
    await browser?.close();
    await h?.close();
    await tdb?.drop();
    spa?.close();
    other?.close();
  });

  const signIn = async (): Promise<string> => {
    await page.goto(`${h.baseUrl}/auth/acme/authorize?` + new URLSearchParams({ client_id: 'spa', redirect_uri: `${spaOrigin}/cb`, response_type: 'code', scope: 'openid profile', code_challenge: challenge, code_challenge_method: 'S256' }));
    if (await page.locator('#password').count()) {
      await page.fill('#username', 'alice');
      await page.fill('#password', 'correct horse battery');
      await Promise.all([page.waitForURL((u) => u.toString().startsWith(spaOrigin)), page.click('button[type=submit]')]);
    } else await page.waitForURL((u) => u.toString().startsWith(spaOrigin));
    return new URL(page.url()).searchParams.get('code')!;
  };

  it("redeems the code from the app's own origin and reads UserInfo there", async () => {
    await signIn();
    await page.waitForFunction("document.title === 'done'");
    const result = JSON.parse((await page.textContent('#out'))!) as { status: number; id_token: string; userinfo: { sub: string } };
    assert.equal(result.status, 200, JSON.stringify(result));
    assert.equal(result.userinfo.sub, decodeJwt(result.id_token).sub);
  });

  it('keeps the answer from a page on another origin, and the code stays unspent', async () => {
    // The app's page holds the code without redeeming it; it is handed to the other origin's page.
    hold = true;
    const code = await signIn();
    hold = false;
    await page.goto(`${otherOrigin}/?code=${encodeURIComponent(code)}`);
    await page.waitForFunction("document.title.startsWith('read') || document.title.startsWith('failed')");
    assert.match(await page.title(), /^failed TypeError/);
    // The refused request spent nothing: the app's own page still redeems the code.
    await page.goto(`${spaOrigin}/cb?code=${encodeURIComponent(code)}`);
    await page.waitForFunction("document.title === 'done'");
    const out = (await page.textContent('#out'))!;
    assert.equal((JSON.parse(out) as { status: number }).status, 200, out);
  });
});
