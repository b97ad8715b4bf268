// Keeps Node's bundled undici off a function's start path. Node defines its fetch classes
// (Headers, Request, Response, FormData) as lazy globals: the first read of any of them loads
// undici whole, 15–20 ms of a cold start that serves its first request with none of them:
// @hono/node-server answers with its own lightweight Request and Response objects, and builds
// Node's only when a handler asks for more (a body stream, a clone, a form).
//
// Importing this module (shared/http/serve.ts does, before @hono/node-server, which reads the
// globals as it loads) installs:
// - Headers: the platform's own implementation (./headers.ts), complete, never delegating;
// - Request and Response: stand-ins whose constructors build Node's objects, loading undici at
//   that moment. Their prototypes then chain to Node's, so subclasses (@hono/node-server's)
//   and `instanceof` behave as with Node's own classes.
// Node's original lazy getters are kept, so nothing is loaded before something needs it.

import { Headers } from './headers.js';

type Native = {
  Headers: typeof globalThis.Headers;
  Request: typeof globalThis.Request;
  Response: typeof globalThis.Response;
};

const NAMES = ['Headers', 'Request', 'Response'] as const;
/** Where the first copy of this module keeps its loader: a second copy (another build of it in the same process) uses that one. */
const INSTALLED = Symbol.for('zenokube.nativeWebClasses');

/** Node's own descriptors of the three globals, as found before they were replaced. */
const originals = new Map<string, PropertyDescriptor>();
let native: Native | undefined;

/** Node's Headers, Request and Response, loading undici on the first call. */
export function nativeWebClasses(): Native {
  return native ?? (globalThis as unknown as Record<symbol, () => Native>)[INSTALLED]!();
}

/** Node's lazy getter also redefines the global it belongs to: the globals as they stand are put back after it. */
function loadNative(): Native {
  if (native) return native;
  const current = NAMES.map((name) => Object.getOwnPropertyDescriptor(globalThis, name));
  const found: Record<string, unknown> = {};
  try {
    for (const name of NAMES) {
      const d = originals.get(name)!;
      found[name] = d.get ? d.get.call(globalThis) : d.value;
    }
  } finally {
    NAMES.forEach((name, i) => Object.defineProperty(globalThis, name, current[i]!));
  }
  native = found as Native;
  Object.setPrototypeOf(Request, native.Request);
  Object.setPrototypeOf(Request.prototype, native.Request.prototype);
  Object.setPrototypeOf(Response, native.Response);
  Object.setPrototypeOf(Response.prototype, native.Response.prototype);
  return native;
}

/** True when `x` is an instance of `cls` or, once undici is loaded, of Node's class it stands for. */
function isInstance(cls: object, self: object, x: unknown, key: keyof Native): boolean {
  if (Function.prototype[Symbol.hasInstance].call(self, x)) return true;
  return self === cls && native !== undefined && x instanceof native[key];
}

/** Stands for Node's Request: constructing one builds Node's (with `new.target`'s prototype). */
const Request = class Request {
  constructor(...args: unknown[]) {
    return Reflect.construct(loadNative().Request, args, new.target) as Request;
  }

  static [Symbol.hasInstance](x: unknown): boolean {
    return isInstance(Request, this, x, 'Request');
  }

  get [Symbol.toStringTag](): string {
    return 'Request';
  }
};

/** Stands for Node's Response, as Request does for Node's Request; its statics are Node's. */
const Response = class Response {
  constructor(...args: unknown[]) {
    return Reflect.construct(loadNative().Response, args, new.target) as Response;
  }

  static [Symbol.hasInstance](x: unknown): boolean {
    return isInstance(Response, this, x, 'Response');
  }

  static error(): globalThis.Response {
    return loadNative().Response.error();
  }

  static json(...args: Parameters<typeof globalThis.Response.json>): globalThis.Response {
    return loadNative().Response.json(...args);
  }

  static redirect(...args: Parameters<typeof globalThis.Response.redirect>): globalThis.Response {
    return loadNative().Response.redirect(...args);
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }
};

/** Our Headers answers `instanceof` for Node's too, once undici is loaded. */
Object.defineProperty(Headers, Symbol.hasInstance, {
  value(this: object, x: unknown): boolean {
    return isInstance(Headers, this, x, 'Headers');
  },
});

function install(): void {
  const g = globalThis as unknown as Record<symbol, () => Native>;
  if (g[INSTALLED]) return;
  Object.defineProperty(globalThis, INSTALLED, { value: loadNative });
  const replacements = { Headers, Request, Response };
  for (const name of NAMES) {
    const d = Object.getOwnPropertyDescriptor(globalThis, name);
    if (!d) throw new Error(`this Node.js has no global ${name}`);
    originals.set(name, d);
    Object.defineProperty(globalThis, name, { value: replacements[name], writable: true, configurable: true, enumerable: false });
  }
  // Once undici is loaded anyway, the stand-ins take Node's prototypes at once.
  if (NAMES.every((name) => 'value' in originals.get(name)!)) loadNative();
}

install();
