// The sign-in form: a plain HTML POST with a CSRF token, no scripts needed; where the browser has
// WebAuthn, a passkey button signs in without a username.
import { Layout } from './layout.js';
import { PasskeyCeremony } from './passkey-pages.js';

interface LoginPageProps {
  action: string;
  interaction: string;
  csrf: string;
  clientName: string;
  tenantName: string;
  username?: string | undefined;
  error?: string | undefined;
}

/** The page posts to `{issuer}/login`. */
const issuerOf = (loginAction: string) => loginAction.replace(/\/login$/, '');

export function LoginPage(p: LoginPageProps) {
  return (
    <Layout title={`Sign in to ${p.tenantName}`}>
      <h1>Sign in</h1>
      <p class="muted">
        to continue to <strong>{p.clientName}</strong>
      </p>
      {p.error ? (
        <p class="alert" role="alert" id="login-error">
          {p.error}
        </p>
      ) : null}
      <form method="post" action={p.action} aria-describedby={p.error ? 'login-error' : undefined}>
        <input type="hidden" name="interaction" value={p.interaction} />
        <input type="hidden" name="csrf" value={p.csrf} />
        <label for="username">Username or email</label>
        <input id="username" name="username" type="text" autocomplete="username" required autofocus value={p.username ?? ''} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">
        <a href={`${issuerOf(p.action)}/password/forgot`}>Forgot your password?</a>
      </p>
      <PasskeyCeremony kind="get" issuer={issuerOf(p.action)} action={`${p.action}/passkey`} options={`${p.action}/passkey/options`} label="Sign in with a passkey" hidden={{ interaction: p.interaction, csrf: p.csrf, mode: 'sign-in' }} />
    </Layout>
  );
}
