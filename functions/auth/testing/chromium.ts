// Debian's Chromium for browser tests, driven by playwright-core, with the DevTools Protocol's
// virtual WebAuthn authenticator (CTAP2, resident keys, user verification) on a page.
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** One browser per test file: as root Chromium needs --no-sandbox; nothing reaches out. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface VirtualAuthenticator {
  context: BrowserContext;
  page: Page;
  cdp: CDPSession;
  authenticatorId: string;
}

/** A fresh context and page with a platform authenticator that holds discoverable credentials. */
export async function pageWithAuthenticator(browser: Browser, opts: { userAgent?: string; backupEligible?: boolean } = {}): Promise<VirtualAuthenticator> {
  const context = await browser.newContext(opts.userAgent ? { userAgent: opts.userAgent } : {});
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      ...(opts.backupEligible ? { defaultBackupEligibility: true, defaultBackupState: true } : {}),
    },
  });
  return { context, page, cdp, authenticatorId };
}
