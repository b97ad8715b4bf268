// The ServerResponse of every platform server: the platform's own response headers (request id,
// secure headers) join the handler's header object inside writeHead, so node serialises one plain
// object. Setting them with setHeader before the handler ran cost a call each, and made node pass
// every header of the handler's response through setHeader again when it merged the two.
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http';

export type HeaderList = readonly (readonly [string, string])[];

/** True when `headers` names `lowerName`, in any case. */
function names(headers: OutgoingHttpHeaders, keys: string[], lowerName: string): boolean {
  if (headers[lowerName] !== undefined) return true;
  for (const k of keys) if (k.length === lowerName.length && k.toLowerCase() === lowerName) return true;
  return false;
}

export class PlatformServerResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  #requestId: string | undefined;
  #headers: HeaderList | undefined;

  /**
   * Adds `x-request-id` and `headers` (lower-case names) when the head is written, each only
   * where the response has no value of its own: a handler's stricter policy is kept.
   */
  addDefaultHeaders(requestId: string, headers: HeaderList): void {
    this.#requestId = requestId;
    this.#headers = headers;
  }

  override writeHead(statusCode: number, statusMessage?: string, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this;
  override writeHead(statusCode: number, reasonOrHeaders?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], maybeHeaders?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    const list = this.#headers;
    const requestId = this.#requestId;
    if (list === undefined || requestId === undefined) return this.#write(statusCode, reasonOrHeaders, maybeHeaders);
    this.#headers = undefined;
    this.#requestId = undefined;
    const hasReason = typeof reasonOrHeaders === 'string';
    const given = hasReason ? maybeHeaders : (reasonOrHeaders as OutgoingHttpHeaders | OutgoingHttpHeader[] | undefined);
    if (Array.isArray(given)) {
      // The raw-array form: set what is missing first; node lets the array's own values win.
      if (!this.hasHeader('x-request-id')) this.setHeader('x-request-id', requestId);
      for (const [name, value] of list) if (!this.hasHeader(name)) this.setHeader(name, value);
      return this.#write(statusCode, reasonOrHeaders, maybeHeaders);
    }
    const own = given ?? {};
    const keys = Object.keys(own);
    const merged: OutgoingHttpHeaders = {};
    if (!names(own, keys, 'x-request-id') && !this.hasHeader('x-request-id')) merged['x-request-id'] = requestId;
    for (const [name, value] of list) if (!names(own, keys, name) && !this.hasHeader(name)) merged[name] = value;
    for (const k of keys) merged[k] = own[k];
    return hasReason ? this.#write(statusCode, reasonOrHeaders, merged) : this.#write(statusCode, merged);
  }

  #write(statusCode: number, a?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], b?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
    return typeof a === 'string' ? super.writeHead(statusCode, a, b) : super.writeHead(statusCode, a);
  }
}
