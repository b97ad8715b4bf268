// The agent's access token: the client credentials grant at the ZenoAuth token endpoint, kept until
// a minute before it expires.
// @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4
// @see https://www.rfc-editor.org/rfc/rfc8707 (resource: the audience the edge may require)

interface ClientCredentials {
  /** The token endpoint, e.g. `https://id.example.com/auth/sites/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  resource?: string;
}

/** A token source for the agent: fetches a token when it has none or it is about to expire. */
export function clientCredentialsToken(c: ClientCredentials, now: () => number = Date.now): () => Promise<string> {
  let cached: { token: string; until: number } | undefined;
  return async () => {
    if (cached && now() < cached.until) return cached.token;
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (c.resource) body.set('resource', c.resource);
    // RFC 6749 §2.3.1: client_secret_basic, both parts form-url-encoded.
    const basic = Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64');
    const res = await fetch(c.tokenUrl, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const json = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown };
    if (!res.ok || typeof json.access_token !== 'string') {
      throw new Error(`the token endpoint refused the client credentials: ${res.status} ${typeof json.error === 'string' ? json.error : ''}`.trim());
    }
    const ttl = typeof json.expires_in === 'number' ? json.expires_in : 300;
    cached = { token: json.access_token, until: now() + Math.max(0, ttl - 60) * 1000 };
    return json.access_token;
  };
}
