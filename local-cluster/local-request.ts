// The request an in-process hop hands a function's app: a POST whose body is already in memory.
// A full `Request` costs a WebIDL conversion of its init, an AbortSignal and a ReadableStream
// around the bytes, and reading the body back goes through that stream; an event handler needs
// only the method, the URL, the headers and the bytes. This object answers those directly and is
// a `Request` for everything else: any other member builds the real one on first use (as
// @hono/node-server's lightweight request does for a request read from a socket).
// @see https://fetch.spec.whatwg.org/#request-class

import { nativeWebClasses } from '#shared/http/web/globals';

const state = Symbol('localRequest');

interface State {
  readonly url: string;
  /** Undefined for no body (`body` is then null, and reading it gives nothing, any number of times). */
  readonly bytes: Uint8Array | undefined;
  readonly headers: Headers;
  /** The body was read through this object's own body methods. */
  consumed: boolean;
  real: Request | undefined;
}

type LocalRequest = Request & { [state]: State };

const EMPTY = new Uint8Array(0);

const bodyUnusable = () => new TypeError('Body is unusable: Body has already been read');

/** The real Request, built once; its body is a used one when the bytes were already read here. */
function real(req: LocalRequest): Request {
  const s = req[state];
  if (!s.real) {
    s.real = new Request(s.url, { method: 'POST', headers: s.headers, body: s.bytes ?? null });
    // Reading marks the body used (and locks its stream), as reading the real body would have.
    if (s.consumed) void s.real.arrayBuffer();
  }
  return s.real;
}

/** The bytes, once: a second read is refused as a Request refuses it. */
function take(req: LocalRequest): Uint8Array {
  const s = req[state];
  if (!s.bytes) return EMPTY;
  if (s.consumed) throw bodyUnusable();
  s.consumed = true;
  return s.bytes;
}

/** Delegates to the real Request once one exists (it owns the body from then on). */
function read<T>(req: LocalRequest, method: 'arrayBuffer' | 'text' | 'json' | 'blob' | 'bytes', fromBytes: (bytes: Uint8Array) => T): Promise<T> {
  const s = req[state];
  if (s.real) return (s.real as unknown as Record<typeof method, () => Promise<T>>)[method]();
  try {
    return Promise.resolve(fromBytes(take(req)));
  } catch (err) {
    return Promise.reject(err);
  }
}

const UTF8 = new TextDecoder();
const copy = (bytes: Uint8Array) => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

const prototype: ThisType<LocalRequest> & Record<string, unknown> = {
  get method() {
    return 'POST';
  },
  get url() {
    return this[state].url;
  },
  get headers() {
    return this[state].headers;
  },
  get bodyUsed() {
    const s = this[state];
    return s.real ? s.real.bodyUsed : s.consumed;
  },
  get body() {
    return this[state].bytes ? real(this).body : null;
  },
  get signal() {
    return real(this).signal;
  },
  arrayBuffer() {
    return read(this, 'arrayBuffer', copy);
  },
  text() {
    return read(this, 'text', (b) => UTF8.decode(b));
  },
  json() {
    return read(this, 'json', (b) => JSON.parse(UTF8.decode(b)) as unknown);
  },
  blob() {
    const type = this.headers.get('content-type');
    return read(this, 'blob', (b) => new Blob([copy(b)], type ? { type } : {}));
  },
  formData() {
    if (this[state].consumed && !this[state].real) return Promise.reject(bodyUnusable());
    return real(this).formData();
  },
  clone() {
    if (this[state].consumed && !this[state].real) throw bodyUnusable();
    return real(this).clone();
  },
  bytes() {
    return read(this, 'bytes', (b) => new Uint8Array(copy(b)));
  },
  [Symbol.for('nodejs.util.inspect.custom')]() {
    return { method: 'POST', url: this[state].url, headers: this[state].headers };
  },
};
// Every other member of Request (cache, mode, what a later Node adds) is the real Request's,
// built on first use. The chain is walked: the global Request may be a subclass of Node's (as
// @hono/node-server installs one), over the platform's stand-in whose prototype chains to Node's
// once Node's is loaded (shared/http/web/globals.ts), which it is here.
nativeWebClasses();
for (let proto: object | null = Request.prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === 'constructor' || Object.hasOwn(prototype, key)) continue;
    const member = Object.getOwnPropertyDescriptor(proto, key)!;
    const delegate: PropertyDescriptor =
      typeof member.value === 'function'
        ? {
            value(this: LocalRequest, ...args: unknown[]) {
              return (member.value as (...a: unknown[]) => unknown).apply(real(this), args);
            },
          }
        : {
            get(this: LocalRequest) {
              return (real(this) as unknown as Record<string, unknown>)[key];
            },
          };
    Object.defineProperty(prototype, key, delegate);
  }
}
// `instanceof Request` holds, and no getter of Request.prototype (which checks for a real
// Request) is ever reached: every member is defined above.
Object.setPrototypeOf(prototype, Request.prototype);

/**
 * A POST of `bytes` (none when undefined) to `url` with `headers`: a
 * `Request` to whoever reads it, without building one unless a member other than the method,
 * URL, headers or a body read is used.
 */
export function localRequest(url: string, headers: Record<string, string>, bytes: Uint8Array | undefined): Request {
  const req = Object.create(prototype) as LocalRequest;
  // Built now, so that a header value a Request refuses fails here, as `new Request` would.
  req[state] = { url, headers: new Headers(headers), bytes, consumed: false, real: undefined };
  return req;
}
