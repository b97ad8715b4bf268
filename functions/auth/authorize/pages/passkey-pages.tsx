// The passkey parts of the pages: the ceremony form (hidden until the script finds WebAuthn),
// the account page that lists, adds and removes passkeys, and the second-factor choice.
import type { WebauthnCredential } from '../../core/schema.js';
import { Layout } from './layout.js';

interface CeremonyProps {
  kind: 'get' | 'create';
  issuer: string;
  action: string;
  options: string;
  label: string;
  hidden: Record<string, string>;
  /** A visible name field (registration). */
  withName?: boolean;
}

/** A form the passkey script drives; posts the credential JSON to `action`. */
export function PasskeyCeremony(p: CeremonyProps) {
  return (
    <>
      <form method="post" action={p.action} data-passkey={p.kind} data-options={p.options} hidden>
        {Object.entries(p.hidden).map(([k, v]) => (
          <input type="hidden" name={k} value={v} />
        ))}
        <input type="hidden" name="credential" value="" />
        {p.withName ? (
          <>
            <label for="passkey-name">Name of this passkey</label>
            <input id="passkey-name" name="name" type="text" maxlength={64} placeholder="e.g. Work laptop" />
          </>
        ) : null}
        <button type="submit">{p.label}</button>
        <p class="alert" role="alert" data-passkey-error hidden></p>
      </form>
      <script src={`${p.issuer}/passkey.js`} defer></script>
    </>
  );
}

const when = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'never');

interface AccountPasskeysProps {
  issuer: string;
  csrf: string;
  username: string;
  passkeys: WebauthnCredential[];
  notice?: string | undefined;
  error?: string | undefined;
  recoveryCodes?: string[] | undefined;
}

export function AccountPasskeysPage(p: AccountPasskeysProps) {
  const action = `${p.issuer}/account/passkeys`;
  return (
    <Layout title="Your passkeys">
      <h1>Your passkeys</h1>
      <p class="muted">Signed in as {p.username}</p>
      {p.notice ? <p role="status">{p.notice}</p> : null}
      {p.error ? (
        <p class="alert" role="alert">
          {p.error}
        </p>
      ) : null}
      {p.recoveryCodes ? (
        <>
          <p>Keep these recovery codes somewhere safe. Each one signs you in once if you lose your passkeys. They are shown only now.</p>
          <ul id="recovery-codes">
            {p.recoveryCodes.map((c) => (
              <li>
                <code>{c}</code>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      {p.passkeys.length ? (
        <ul id="passkeys">
          {p.passkeys.map((k) => (
            <li>
              <strong>{k.name}</strong>
              <br />
              <span class="muted">
                {k.deviceType === 'multiDevice' ? 'synced passkey' : 'on one device'}, added {when(k.createdAt)}, last used {when(k.lastUsedAt)}
              </span>
              <form method="post" action={action}>
                <input type="hidden" name="csrf" value={p.csrf} />
                <input type="hidden" name="op" value="remove" />
                <input type="hidden" name="passkey" value={k.id} />
                <button type="submit" class="secondary" aria-label={`Remove ${k.name}`}>
                  Remove
                </button>
              </form>
            </li>
          ))}
        </ul>
      ) : (
        <p>You have no passkeys yet.</p>
      )}
      <h2>Add a passkey</h2>
      <noscript>
        <p>Adding a passkey needs JavaScript in this browser.</p>
      </noscript>
      <PasskeyCeremony kind="create" issuer={p.issuer} action={action} options={`${action}/options`} label="Add a passkey" hidden={{ csrf: p.csrf, op: 'register' }} withName />
    </Layout>
  );
}
