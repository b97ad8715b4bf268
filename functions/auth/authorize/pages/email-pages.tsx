// The e-mail pages: confirm an address from its link, and the signed-in user's address settings.
import type { PageBrand } from '../../core/branding.js';
import { Layout } from './layout.js';

/** Opened from the link: one button, so that a mail scanner fetching the link confirms nothing. */
export function ConfirmEmailPage(p: { action: string; csrf: string; token: string; email: string; brand?: PageBrand | undefined }) {
  return (
    <Layout title="Confirm your e-mail address" brand={p.brand}>
      <h1>Confirm your e-mail address</h1>
      <p>
        Use <strong>{p.email}</strong> for your account?
      </p>
      <form method="post" action={p.action}>
        <input type="hidden" name="csrf" value={p.csrf} />
        <input type="hidden" name="token" value={p.token} />
        <button type="submit">Confirm</button>
      </form>
    </Layout>
  );
}

export function EmailConfirmedPage(p: { email: string; brand?: PageBrand | undefined }) {
  return (
    <Layout title="E-mail address confirmed" brand={p.brand}>
      <h1>E-mail address confirmed</h1>
      <p role="status">
        <strong>{p.email}</strong> is confirmed. You can close this page, or sign in from your application.
      </p>
    </Layout>
  );
}

interface AccountEmailPageProps {
  action: string;
  csrf: string;
  email: string | null;
  verified: boolean;
  /** The user has a password, so a change asks for it. */
  askPassword: boolean;
  notice?: string | undefined;
  error?: string | undefined;
  brand?: PageBrand | undefined;
}

export function AccountEmailPage(p: AccountEmailPageProps) {
  return (
    <Layout title="Your e-mail address" brand={p.brand}>
      <h1>Your e-mail address</h1>
      {p.notice ? <p role="status">{p.notice}</p> : null}
      {p.error ? (
        <p class="alert" role="alert" id="email-error">
          {p.error}
        </p>
      ) : null}
      <p>
        {p.email ? (
          <>
            <strong>{p.email}</strong> {p.verified ? '(confirmed)' : '(not confirmed yet)'}
          </>
        ) : (
          'No address yet.'
        )}
      </p>
      {p.email && !p.verified ? (
        <form method="post" action={p.action}>
          <input type="hidden" name="csrf" value={p.csrf} />
          <input type="hidden" name="op" value="resend" />
          <button type="submit" class="secondary">
            Send the confirmation link again
          </button>
        </form>
      ) : null}
      <h2>Change it</h2>
      <p class="muted">We send a link to the new address; the change applies once you open it.</p>
      <form method="post" action={p.action} aria-describedby={p.error ? 'email-error' : undefined}>
        <input type="hidden" name="csrf" value={p.csrf} />
        <input type="hidden" name="op" value="change" />
        <label for="email">New e-mail address</label>
        <input id="email" name="email" type="email" autocomplete="email" maxlength={254} required />
        {p.askPassword ? (
          <>
            <label for="password">Your password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required />
          </>
        ) : null}
        <button type="submit">Send a confirmation link</button>
      </form>
    </Layout>
  );
}

export function AccountPasswordPage(p: { action: string; csrf: string; minLength: number; hasPassword: boolean; notice?: string | undefined; error?: string | undefined; brand?: PageBrand | undefined }) {
  return (
    <Layout title="Your password" brand={p.brand}>
      <h1>{p.hasPassword ? 'Change your password' : 'Set a password'}</h1>
      {p.notice ? <p role="status">{p.notice}</p> : null}
      {p.error ? (
        <p class="alert" role="alert" id="password-error">
          {p.error}
        </p>
      ) : null}
      <form method="post" action={p.action} aria-describedby={p.error ? 'password-error' : undefined}>
        <input type="hidden" name="csrf" value={p.csrf} />
        {p.hasPassword ? (
          <>
            <label for="current">Current password</label>
            <input id="current" name="current" type="password" autocomplete="current-password" required />
          </>
        ) : null}
        <label for="password">New password</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength={p.minLength} required aria-describedby="password-hint" />
        <p class="muted" id="password-hint">
          At least {p.minLength} characters; passwords known from data breaches are refused. Your other devices are signed out.
        </p>
        <button type="submit">Save password</button>
      </form>
    </Layout>
  );
}
