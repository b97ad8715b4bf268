// A minimal browser for end-to-end tests: a cookie jar, manual redirects, and form posting that
// reads hidden inputs from server-rendered pages (no JavaScript, as a real user agent without it).
export class Browser {
  readonly jar = new Map<string, string>();
  readonly userAgent: string | undefined;
  /** Sent with every request (e.g. an X-Forwarded-For hop, as the trusted ingress writes it). */
  readonly headers: Record<string, string>;

  constructor(userAgent?: string, headers: Record<string, string> = {}) {
    this.userAgent = userAgent;
    this.headers = headers;
  }

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    for (const [k, v] of Object.entries(this.headers)) if (!headers.has(k)) headers.set(k, v);
    if (this.jar.size) headers.set('cookie', this.cookieHeader());
    if (this.userAgent && !headers.has('user-agent')) headers.set('user-agent', this.userAgent);
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      const expired = attrs.some((a) => /max-age=0$/i.test(a.trim()) || /expires=Thu, 01 Jan 1970/i.test(a.trim()));
      if (expired || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return res;
  }

  /** Posts a form found on `html` (by action), filling hidden inputs plus `fields`. */
  async submit(html: string, fields: Record<string, string>, actionMatch?: RegExp): Promise<Response> {
    const forms = [...html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
    const form = actionMatch ? forms.find((f) => actionMatch.test(f[1]!)) : forms[0];
    if (!form) throw new Error('no form on the page');
    const body = new URLSearchParams();
    for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) body.set(m[1]!, decode(m[2]!));
    for (const [k, v] of Object.entries(fields)) body.set(k, v);
    return this.fetch(decode(form[1]!), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  }
}

const decode = (s: string) => s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
