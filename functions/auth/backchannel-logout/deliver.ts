// POSTs a logout token to a client (OIDC Back-Channel Logout 1.0 §2.5) with a deadline: a client
// that hangs costs one attempt, never a stuck worker. 200 or 204 is success (§2.8); 400 means the
// client refused the token and a retry would not change that; anything else is tried again.

export class LogoutDeliveryFailed extends Error {
  override readonly name = 'LogoutDeliveryFailed';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/** The timeout from the environment, checked once at start. */
export function readTimeoutMs(raw: string | undefined): number {
  const ms = Number(raw ?? '5000');
  if (!Number.isInteger(ms) || ms < 10 || ms > 60_000) throw new TypeError('ZENO_AUTH_BACKCHANNEL_LOGOUT_TIMEOUT_MS must be an integer between 10 and 60000');
  return ms;
}

export async function postLogoutToken(uri: string, token: string, timeoutMs: number, send: typeof fetch = fetch): Promise<void> {
  let res: Response;
  try {
    res = await send(uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
      // A redirect is no answer: the token goes to the registered URI only.
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new LogoutDeliveryFailed(timedOut ? `no answer within ${timeoutMs} ms` : `unreachable: ${(err as Error).message}`.slice(0, 200), true);
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status === 200 || res.status === 204) return;
  if (res.status === 400) throw new LogoutDeliveryFailed('the client refused the logout token (HTTP 400)', false);
  throw new LogoutDeliveryFailed(`HTTP ${res.status}`, true);
}
