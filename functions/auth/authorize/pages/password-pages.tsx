// The password-reset pages: ask for a link, and choose a new password from it. Plain HTML forms.
import type { PageBrand } from '../../core/branding.js';
import { Layout } from './layout.js';

export function ForgotPasswordPage(p: { action: string; csrf: string; tenantName: string; sent?: boolean; brand?: PageBrand | undefined }) {
  return (
    <Layout title={`Reset your password for ${p.tenantName}`} brand={p.brand}>
      <h1>Reset your password</h1>
      {p.sent ? (
        <p role="status">If an account with an e-mail address matches, a link to choose a new password is on its way. It works once, for 30 minutes.</p>
      ) : (
        <form method="post" action={p.action}>
          <input type="hidden" name="csrf" value={p.csrf} />
          <label for="username">Username or email</label>
          <input id="username" name="username" type="text" autocomplete="username" required autofocus />
          <button type="submit">Send me a link</button>
        </form>
      )}
    </Layout>
  );
}

export function NewPasswordPage(p: { action: string; csrf: string; token: string; minLength: number; error?: string | undefined; brand?: PageBrand | undefined }) {
  return (
    <Layout title="Choose a new password" brand={p.brand}>
      <h1>Choose a new password</h1>
      {p.error ? (
        <p class="alert" role="alert" id="password-error">
          {p.error}
        </p>
      ) : null}
      <form method="post" action={p.action} aria-describedby={p.error ? 'password-error' : undefined}>
        <input type="hidden" name="csrf" value={p.csrf} />
        <input type="hidden" name="token" value={p.token} />
        <label for="password">New password</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength={p.minLength} required autofocus />
        <button type="submit">Set password</button>
      </form>
    </Layout>
  );
}
