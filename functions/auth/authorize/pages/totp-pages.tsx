// The TOTP pages: enrolment (QR code and key), the recovery codes shown once, and the sign-in
// challenge. Plain HTML forms, no scripts.
import { Layout } from './layout.js';
import { PasskeyCeremony } from './passkey-pages.js';

interface EnrolProps {
  action: string;
  csrf: string;
  username: string;
  qrDataUri: string;
  otpauthUri: string;
  base32: string;
  error?: string | undefined;
}

export function TotpEnrolPage(p: EnrolProps) {
  return (
    <Layout title="Set up an authenticator app">
      <h1>Set up an authenticator app</h1>
      <p class="muted">Signed in as {p.username}</p>
      <p>Scan this code with your authenticator app, or enter the key by hand.</p>
      <img src={p.qrDataUri} alt="QR code of your authenticator key" width="240" height="240" />
      <p>
        Key: <code id="totp-key">{p.base32}</code>
      </p>
      <p>
        <a href={p.otpauthUri}>Open in an authenticator app on this device</a>
      </p>
      {p.error ? (
        <p class="alert" role="alert" id="totp-error">
          {p.error}
        </p>
      ) : null}
      <form method="post" action={p.action} aria-describedby={p.error ? 'totp-error' : undefined}>
        <input type="hidden" name="csrf" value={p.csrf} />
        <label for="code">Code shown by the app</label>
        <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus />
        <button type="submit">Turn on</button>
      </form>
    </Layout>
  );
}

export function RecoveryCodesPage(p: { codes: string[] }) {
  return (
    <Layout title="Your recovery codes">
      <h1>Your authenticator app is on</h1>
      <p>Keep these recovery codes somewhere safe. Each one signs you in once if you lose your app. They are shown only now.</p>
      <ul id="recovery-codes">
        {p.codes.map((c) => (
          <li>
            <code>{c}</code>
          </li>
        ))}
      </ul>
    </Layout>
  );
}

export function TotpEnabledPage(p: { username: string }) {
  return (
    <Layout title="Authenticator app">
      <h1>Authenticator app</h1>
      <p class="muted">Signed in as {p.username}</p>
      <p role="status">Your authenticator app is on.</p>
    </Layout>
  );
}

interface ChallengeProps {
  action: string;
  interaction: string;
  csrf: string;
  tenantName: string;
  error?: string | undefined;
  /** The second factors the user has (default: an authenticator app only). */
  methods?: { totp: boolean; passkey: boolean } | undefined;
}

export function TotpChallengePage(p: ChallengeProps) {
  return (
    <Layout title={`Sign in to ${p.tenantName}`}>
      <h1>{p.methods?.passkey && !p.methods.totp ? 'Confirm it is you' : 'Enter your code'}</h1>
      {p.methods?.passkey ? (
        <PasskeyCeremony kind="get" issuer={p.action.replace(/\/login\/second-factor$/, '')} action={`${p.action.replace(/\/second-factor$/, '')}/passkey`} options={`${p.action.replace(/\/second-factor$/, '')}/passkey/options`} label="Use a passkey" hidden={{ interaction: p.interaction, csrf: p.csrf, mode: 'second-factor' }} />
      ) : null}
      <p class="muted">{p.methods && !p.methods.totp ? 'Or enter one of your recovery codes.' : 'Open your authenticator app and enter the code it shows, or one of your recovery codes.'}</p>
      {p.error ? (
        <p class="alert" role="alert" id="totp-error">
          {p.error}
        </p>
      ) : null}
      <form method="post" action={p.action} aria-describedby={p.error ? 'totp-error' : undefined}>
        <input type="hidden" name="interaction" value={p.interaction} />
        <input type="hidden" name="csrf" value={p.csrf} />
        <label for="code">Code</label>
        <input id="code" name="code" type="text" autocomplete="one-time-code" required autofocus />
        <button type="submit">Continue</button>
      </form>
    </Layout>
  );
}
