// The device verification pages (RFC 8628 §3.3): enter the code shown on the device, confirm what
// it asks for, and the closing message.
import { Layout } from './layout.js';

interface DeviceCodePageProps {
  action: string;
  csrf: string;
  tenantName: string;
  userCode?: string | undefined;
  error?: string | undefined;
}

export function DeviceCodePage(p: DeviceCodePageProps) {
  return (
    <Layout title={`Connect a device to ${p.tenantName}`}>
      <h1>Connect a device</h1>
      <p class="muted">Enter the code shown on your device.</p>
      {p.error ? (
        <p class="alert" role="alert" id="device-error">
          {p.error}
        </p>
      ) : null}
      <form method="post" action={p.action} aria-describedby={p.error ? 'device-error' : undefined}>
        <input type="hidden" name="csrf" value={p.csrf} />
        <label for="user_code">Code</label>
        <input id="user_code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" spellcheck={false} required autofocus value={p.userCode ?? ''} />
        <button type="submit">Continue</button>
      </form>
    </Layout>
  );
}

interface DeviceConfirmPageProps {
  action: string;
  interaction: string;
  csrf: string;
  clientName: string;
  username: string;
  userCode: string;
  scopes: string[];
}

/**
 * RFC 8628 §5.4 remote phishing: the user confirms the code they see on their own device and the
 * application's name before anything is granted, even when the code came in the URI.
 */
export function DeviceConfirmPage(p: DeviceConfirmPageProps) {
  return (
    <Layout title={`Connect ${p.clientName}?`}>
      <h1>Connect {p.clientName}?</h1>
      <p class="muted">Signed in as {p.username}</p>
      <p>
        Check that your device shows the code <strong>{p.userCode}</strong>. Allow only a device you are holding or can see.
      </p>
      {p.scopes.length ? (
        <>
          <p>{p.clientName} asks for:</p>
          <ul>
            {p.scopes.map((s) => (
              <li>{s}</li>
            ))}
          </ul>
        </>
      ) : null}
      <form method="post" action={p.action}>
        <input type="hidden" name="interaction" value={p.interaction} />
        <input type="hidden" name="csrf" value={p.csrf} />
        <button type="submit" name="decision" value="allow">
          Allow
        </button>
        <button type="submit" name="decision" value="deny" class="secondary">
          Deny
        </button>
      </form>
    </Layout>
  );
}

export function DeviceDonePage(p: { approved: boolean }) {
  const title = p.approved ? 'Device connected' : 'Request denied';
  return (
    <Layout title={title}>
      <h1>{title}</h1>
      <p role="status">{p.approved ? 'You can close this page and go back to your device.' : 'The device was not connected. You can close this page.'}</p>
    </Layout>
  );
}
