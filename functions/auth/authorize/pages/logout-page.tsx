// Sign-out confirmation (when the request carries no valid id_token_hint) and the signed-out page.
import { Layout } from './layout.js';

export function LogoutConfirmPage(p: { action: string; csrf: string; hidden: Record<string, string> }) {
  return (
    <Layout title="Sign out?">
      <h1>Sign out?</h1>
      <form method="post" action={p.action}>
        <input type="hidden" name="csrf" value={p.csrf} />
        {Object.entries(p.hidden).map(([k, v]) => (
          <input type="hidden" name={k} value={v} />
        ))}
        <button type="submit" name="confirm" value="yes">
          Sign out
        </button>
      </form>
    </Layout>
  );
}

export function LoggedOutPage() {
  return (
    <Layout title="Signed out">
      <h1>You are signed out</h1>
      <p>You can close this window.</p>
    </Layout>
  );
}
