// The self-service sign-up page: a plain HTML form (address, name, password), and what follows it.
import type { PageBrand } from '../../core/branding.js';
import { Layout } from './layout.js';

interface SignupPageProps {
  action: string;
  csrf: string;
  tenantName: string;
  minLength: number;
  invite?: string | undefined;
  email?: string | undefined;
  name?: string | undefined;
  error?: string | undefined;
  /** Set once the form was accepted: the address the confirmation link went to. */
  sentTo?: string | undefined;
  brand?: PageBrand | undefined;
}

export function SignupPage(p: SignupPageProps) {
  if (p.sentTo !== undefined) {
    return (
      <Layout title={`Check your inbox — ${p.tenantName}`} brand={p.brand}>
        <h1>Check your inbox</h1>
        <p role="status">
          If <strong>{p.sentTo}</strong> can be used here, a message with a link to confirm it is on its way. The link works once, for 24 hours. Then sign in from your application.
        </p>
      </Layout>
    );
  }
  return (
    <Layout title={`Create your account for ${p.tenantName}`} brand={p.brand}>
      <h1>Create your account</h1>
      <p class="muted">{p.tenantName}</p>
      {p.error ? (
        <p class="alert" role="alert" id="signup-error">
          {p.error}
        </p>
      ) : null}
      <form method="post" action={p.action} aria-describedby={p.error ? 'signup-error' : undefined}>
        <input type="hidden" name="csrf" value={p.csrf} />
        {p.invite ? <input type="hidden" name="invite" value={p.invite} /> : null}
        <label for="email">E-mail address</label>
        <input id="email" name="email" type="email" autocomplete="email" maxlength={254} value={p.email ?? ''} required autofocus />
        <label for="name">Your name (optional)</label>
        <input id="name" name="name" type="text" autocomplete="name" maxlength={200} value={p.name ?? ''} />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="new-password" minlength={p.minLength} required aria-describedby="password-hint" />
        <p class="muted" id="password-hint">
          At least {p.minLength} characters. A long phrase is easy to remember; passwords known from data breaches are refused.
        </p>
        <button type="submit">Create account</button>
      </form>
    </Layout>
  );
}
