// The device authorization grant (RFC 8628) as `zenokube login` runs it: ask for a code, show it,
// poll the token endpoint at the interval (longer after slow_down), and save the tokens in a
// file only its owner can read. Network and sleep come in as arguments, so the loop is tested
// without a clock.
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

interface DeviceLoginOptions {
  issuer: string;
  clientId: string;
  scope: string;
  fetch: typeof fetch;
  /** Waits `seconds`. */
  sleep: (seconds: number) => Promise<void>;
  /** Shows the user what to do (the code and where to enter it). */
  show: (message: string) => void;
}

interface SavedTokens {
  issuer: string;
  client_id: string;
  token_type: string;
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope?: string;
  /** Unix time the access token expires at. */
  expires_at?: number;
}

export class LoginError extends Error {
  override readonly name = 'LoginError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

async function json(res: Response): Promise<Record<string, unknown>> {
  try {
    return (await res.json()) as Record<string, unknown>;
  } catch {
    throw new LoginError('bad_response', `${res.url} answered ${res.status} without JSON`);
  }
}

const form = (o: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(o).toString() });

/**
 * Runs the grant to its end: the tokens, or a LoginError (`access_denied`, `expired_token`, …).
 * @see https://www.rfc-editor.org/rfc/rfc8628#section-3.4
 */
export async function deviceLogin(o: DeviceLoginOptions): Promise<SavedTokens> {
  const meta = await json(await o.fetch(`${o.issuer}/.well-known/openid-configuration`));
  const deviceEndpoint = meta.device_authorization_endpoint;
  const tokenEndpoint = meta.token_endpoint;
  if (typeof deviceEndpoint !== 'string' || typeof tokenEndpoint !== 'string') throw new LoginError('no_device_flow', `${o.issuer} offers no device authorization endpoint`);
  const started = await json(await o.fetch(deviceEndpoint, form({ client_id: o.clientId, scope: o.scope })));
  if (typeof started.device_code !== 'string' || typeof started.user_code !== 'string' || typeof started.verification_uri !== 'string') {
    throw new LoginError(String(started.error ?? 'bad_response'), String(started.error_description ?? 'the device authorization request failed'));
  }
  o.show(
    `To sign in, open ${started.verification_uri} and enter the code ${started.user_code}` +
      (typeof started.verification_uri_complete === 'string' ? `\n(or open ${started.verification_uri_complete})` : '') +
      '\n',
  );
  // §3.2: "If no value is provided, clients MUST use 5 as the default."
  let interval = typeof started.interval === 'number' && started.interval > 0 ? started.interval : 5;
  const deadline = typeof started.expires_in === 'number' ? started.expires_in : 1800;
  let waited = 0;
  while (waited < deadline) {
    await o.sleep(interval);
    waited += interval;
    const res = await o.fetch(tokenEndpoint, form({ grant_type: DEVICE_CODE_GRANT, device_code: started.device_code, client_id: o.clientId }));
    const body = await json(res);
    if (res.ok && typeof body.access_token === 'string') {
      return {
        issuer: o.issuer,
        client_id: o.clientId,
        token_type: String(body.token_type ?? 'Bearer'),
        access_token: body.access_token,
        ...(typeof body.refresh_token === 'string' ? { refresh_token: body.refresh_token } : {}),
        ...(typeof body.id_token === 'string' ? { id_token: body.id_token } : {}),
        ...(typeof body.scope === 'string' ? { scope: body.scope } : {}),
        ...(typeof body.expires_in === 'number' ? { expires_at: Math.floor(Date.now() / 1000) + body.expires_in } : {}),
      };
    }
    // §3.5: keep polling while pending; "slow_down ... the interval MUST be increased by 5 seconds
    // for this and all subsequent requests".
    if (body.error === 'authorization_pending') continue;
    if (body.error === 'slow_down') {
      interval += 5;
      continue;
    }
    throw new LoginError(String(body.error ?? 'bad_response'), String(body.error_description ?? `the token endpoint answered ${res.status}`));
  }
  throw new LoginError('expired_token', 'the code expired before it was confirmed');
}

/** Writes the tokens to `file` readable by its owner only (0600), replacing any older file whole. */
export async function saveTokens(file: string, tokens: SavedTokens): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600 });
  // The mode given to writeFile is narrowed by the umask, never widened; chmod states it exactly.
  await chmod(temp, 0o600);
  await rename(temp, file);
}
