// Why the edge refuses an agent: a stable code and the HTTP status the handshake answers with.

type RefusalCode =
  | 'invalid_request' // no Upgrade to the tunnel protocol, or malformed hostnames
  | 'invalid_token' // missing, malformed, forged, expired or another issuer's token
  | 'hostname_not_allowed' // the client may not serve a hostname it registered
  | 'issuer_unavailable'; // the issuer's keys could not be had: the token was not judged

const STATUS: Record<RefusalCode, number> = { invalid_request: 400, invalid_token: 401, hostname_not_allowed: 403, issuer_unavailable: 503 };

export class TunnelRefusal extends Error {
  readonly code: RefusalCode;
  readonly status: number;
  /** What the agent may be told (the cause stays in the edge's log). */
  readonly detail: string;
  constructor(code: RefusalCode, detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.name = 'TunnelRefusal';
    this.code = code;
    this.status = STATUS[code];
    this.detail = detail;
  }

  /** The handshake's answer: an RFC 9457 problem, then the connection closes. */
  render(): string {
    const body = JSON.stringify({ type: 'about:blank', status: this.status, title: this.code, code: this.code, detail: this.detail });
    const challenge = this.status === 401 ? `www-authenticate: Bearer error="invalid_token"\r\n` : '';
    const reason = this.status === 400 ? 'Bad Request' : this.status === 401 ? 'Unauthorized' : this.status === 403 ? 'Forbidden' : 'Service Unavailable';
    return `HTTP/1.1 ${this.status} ${reason}\r\ncontent-type: application/problem+json\r\n${challenge}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
  }
}
