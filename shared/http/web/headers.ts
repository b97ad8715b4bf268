// The Fetch standard's Headers class, for the platform's HTTP servers. Node's own Headers lives in
// its bundled undici, which loads in one piece (~730 KB of JavaScript, 15–20 ms) on the first use
// of any of its globals; a function answering its first request must not pay that for a header
// list. This class is installed as the global Headers by ./globals.ts, and is a Headers to
// undici too: any HeadersInit it is handed is read through the iterator below.
// @see https://fetch.spec.whatwg.org/#headers-class

/** A header name is an RFC 9110 token. @see https://fetch.spec.whatwg.org/#concept-header-name */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Leading and trailing HTTP whitespace bytes. @see https://fetch.spec.whatwg.org/#concept-header-value-normalize */
const OUTER_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
/** What no header value holds: NUL, CR, LF, or a code unit beyond a byte (WebIDL ByteString). */
const INVALID_VALUE = /[\0\r\n]|[^\0-\xff]/;

type Pair = [string, string];
type Init = Iterable<Iterable<string>> | Record<string, string>;

function required(given: number, needed: number, method: string): void {
  if (given < needed) throw new TypeError(`Headers.${method}: ${needed} argument${needed > 1 ? 's' : ''} required, but only ${given} present.`);
}

function headerName(name: unknown, method: string): string {
  const s = `${name as string}`;
  if (!TOKEN.test(s)) throw new TypeError(`Headers.${method}: ${JSON.stringify(s)} is an invalid header name.`);
  return s.toLowerCase();
}

function headerValue(value: unknown, name: string, method: string): string {
  const s = `${value as string}`.replace(OUTER_WHITESPACE, '');
  if (INVALID_VALUE.test(s)) throw new TypeError(`Headers.${method}: invalid value for header ${JSON.stringify(name)}.`);
  return s;
}

export class Headers {
  /** Lower-case name → its values combined with ", ", in the order appended. Set-Cookie is kept apart. */
  #fields = new Map<string, string>();
  /** Each Set-Cookie value on its own: they are never combined. @see https://fetch.spec.whatwg.org/#dom-headers-getsetcookie */
  #cookies: string[] = [];
  /** The sorted and combined list, until the next change. */
  #sorted: Pair[] | undefined;

  // The default keeps Headers.length at 0, as WebIDL gives an optional argument.
  constructor(init: Init | undefined = undefined) {
    if (init === undefined) return;
    if (init === null || (typeof init !== 'object' && typeof init !== 'function')) {
      throw new TypeError('Headers constructor: the init must be a sequence of pairs or a record.');
    }
    const iterator = (init as Partial<Iterable<unknown>>)[Symbol.iterator];
    if (iterator !== undefined && iterator !== null) {
      if (typeof iterator !== 'function') throw new TypeError('Headers constructor: the init is not iterable.');
      for (const pair of { [Symbol.iterator]: () => iterator.call(init) as Iterator<unknown> }) {
        if (pair === null || typeof pair !== 'object' || typeof (pair as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function') {
          throw new TypeError('Headers constructor: each header must be a [name, value] pair.');
        }
        const items = [...(pair as Iterable<unknown>)];
        if (items.length !== 2) throw new TypeError(`Headers constructor: a header pair has ${items.length} items, not 2.`);
        this.#append(items[0], items[1], 'constructor');
      }
      return;
    }
    // A record: its own enumerable keys, in order; a symbol among them is no header name (it throws).
    // @see https://webidl.spec.whatwg.org/#es-record
    for (const key of Reflect.ownKeys(init)) {
      if (!Object.prototype.propertyIsEnumerable.call(init, key)) continue;
      this.#append(key, (init as Record<PropertyKey, unknown>)[key], 'constructor');
    }
  }

  #append(name: unknown, value: unknown, method: string): void {
    const lower = headerName(name, method);
    const v = headerValue(value, lower, method);
    this.#sorted = undefined;
    if (lower === 'set-cookie') {
      this.#cookies.push(v);
      return;
    }
    const had = this.#fields.get(lower);
    this.#fields.set(lower, had === undefined ? v : `${had}, ${v}`);
  }

  append(name: string, value: string): void {
    required(arguments.length, 2, 'append');
    this.#append(name, value, 'append');
  }

  delete(name: string): void {
    required(arguments.length, 1, 'delete');
    const lower = headerName(name, 'delete');
    this.#sorted = undefined;
    if (lower === 'set-cookie') this.#cookies = [];
    else this.#fields.delete(lower);
  }

  get(name: string): string | null {
    required(arguments.length, 1, 'get');
    const lower = headerName(name, 'get');
    if (lower === 'set-cookie') return this.#cookies.length ? this.#cookies.join(', ') : null;
    return this.#fields.get(lower) ?? null;
  }

  getSetCookie(): string[] {
    return [...this.#cookies];
  }

  has(name: string): boolean {
    required(arguments.length, 1, 'has');
    const lower = headerName(name, 'has');
    return lower === 'set-cookie' ? this.#cookies.length > 0 : this.#fields.has(lower);
  }

  set(name: string, value: string): void {
    required(arguments.length, 2, 'set');
    const lower = headerName(name, 'set');
    const v = headerValue(value, lower, 'set');
    this.#sorted = undefined;
    if (lower === 'set-cookie') this.#cookies = [v];
    else this.#fields.set(lower, v);
  }

  /** The "sort and combine" list: names in code-unit order, each Set-Cookie value on its own. @see https://fetch.spec.whatwg.org/#concept-header-list-sort-and-combine */
  #list(): Pair[] {
    if (this.#sorted) return this.#sorted;
    const names = [...this.#fields.keys()];
    if (this.#cookies.length) names.push('set-cookie');
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const list: Pair[] = [];
    for (const name of names) {
      if (name === 'set-cookie') for (const cookie of this.#cookies) list.push([name, cookie]);
      else list.push([name, this.#fields.get(name)!]);
    }
    return (this.#sorted = list);
  }

  forEach(callback: (value: string, name: string, headers: Headers) => void, thisArg?: unknown): void {
    required(arguments.length, 1, 'forEach');
    if (typeof callback !== 'function') throw new TypeError('Headers.forEach: the callback is not a function.');
    // The list is read again at every step, as WebIDL's forEach does: the callback may change it.
    for (let i = 0; i < this.#list().length; i++) {
      const [name, value] = this.#list()[i]!;
      callback.call(thisArg, value, name, this);
    }
  }

  keys(): HeadersIterator<string> {
    return new HeadersIterator(() => this.#list(), 0);
  }

  values(): HeadersIterator<string> {
    return new HeadersIterator(() => this.#list(), 1);
  }

  entries(): HeadersIterator<Pair> {
    return new HeadersIterator(() => this.#list(), 2);
  }

  declare [Symbol.iterator]: () => HeadersIterator<Pair>;

  get [Symbol.toStringTag](): string {
    return 'Headers';
  }

  [Symbol.for('nodejs.util.inspect.custom')](depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    return `Headers ${inspect(Object.fromEntries(this.#list()), { ...options, depth: depth < 0 ? depth : depth - 1 })}`;
  }
}

// WebIDL's @@iterator of a pair iterable is the very function of entries().
Object.defineProperty(Headers.prototype, Symbol.iterator, { value: Headers.prototype.entries, writable: true, configurable: true });

/**
 * The iterator of keys(), values() and entries(): it reads the list again at every step, so a
 * change made while iterating shows, as WebIDL's pair iterators do.
 * @see https://webidl.spec.whatwg.org/#es-default-iterator-object
 */
class HeadersIterator<T> implements IterableIterator<T> {
  #list: () => Pair[];
  #kind: 0 | 1 | 2;
  #index = 0;

  constructor(list: () => Pair[], kind: 0 | 1 | 2) {
    this.#list = list;
    this.#kind = kind;
  }

  next(): IteratorResult<T, undefined> {
    const list = this.#list();
    if (this.#index >= list.length) return { value: undefined, done: true };
    const pair = list[this.#index++]!;
    const value = this.#kind === 2 ? [pair[0], pair[1]] : pair[this.#kind];
    return { value: value as T, done: false };
  }

  [Symbol.iterator](): this {
    return this;
  }

  get [Symbol.toStringTag](): string {
    return 'Headers Iterator';
  }
}
