// Node's own HTTP/1.1 parser (llhttp, the one node's http server and client use), as both sides of
// the proxy drive it directly: ./h1-server.ts for requests, ./h1-client.ts for responses.
//
// Node documents `node:_http_common` as an implementation module (DEP0199, documentation-only);
// the image pins Node 20, and `HTTPParser` has kept this interface since Node 12. A missing or
// changed binding fails the first import loudly, never a request.
import { createRequire } from 'node:module';

/** One parser instance; `C` is the connection object the callbacks reach through `conn`. */
export interface NativeParser<C> {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): undefined | Error;
  close(): void;
  [key: number]: unknown;
  conn: C | undefined;
  /** Header lines of a head that arrived in pieces (llhttp reports them 32 pairs at a time). */
  partial: string[] | undefined;
  partialUrl: string;
}

interface ParserClass {
  new <C>(): NativeParser<C>;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kLenientNone: number;
}

const common = createRequire(import.meta.url)('_http_common') as { HTTPParser?: ParserClass; methods?: string[] };
if (typeof common.HTTPParser !== 'function' || typeof common.HTTPParser.kOnHeadersComplete !== 'number' || !Array.isArray(common.methods)) {
  throw new Error("this Node.js has no usable HTTP parser binding (node:_http_common's HTTPParser); run ZenoIngress on Node.js 20");
}

export const HTTPParser: ParserClass = common.HTTPParser;
/** Method names by llhttp's method number. */
export const METHODS: readonly string[] = common.methods;

/** Most header lines kept from one head (node's default). */
export const MAX_HEADER_PAIRS = 2000;

/** Callbacks of one side, attached to every parser it creates. */
export interface ParserCallbacks<C> {
  onMessageBegin(this: NativeParser<C>): void;
  onHeaders(this: NativeParser<C>, headers: string[], url: string): void;
  onHeadersComplete(this: NativeParser<C>, major: number, minor: number, headers: string[] | undefined, method: number, url: string | undefined, status: number, statusText: string, upgrade: boolean, shouldKeepAlive: boolean): number;
  onBody(this: NativeParser<C>, chunk: Buffer): void;
  onMessageComplete(this: NativeParser<C>): void;
}

/** A strict parser (no lenient flags) of `type` for `conn`. */
export function createParser<C>(type: 'REQUEST' | 'RESPONSE', conn: C, maxHeaderBytes: number, cb: ParserCallbacks<C>): NativeParser<C> {
  const parser = new HTTPParser<C>();
  parser.initialize(HTTPParser[type], {}, maxHeaderBytes, HTTPParser.kLenientNone);
  parser.conn = conn;
  parser.partial = undefined;
  parser.partialUrl = '';
  parser[HTTPParser.kOnMessageBegin] = cb.onMessageBegin;
  parser[HTTPParser.kOnHeaders] = cb.onHeaders;
  parser[HTTPParser.kOnHeadersComplete] = cb.onHeadersComplete;
  parser[HTTPParser.kOnBody] = cb.onBody;
  parser[HTTPParser.kOnMessageComplete] = cb.onMessageComplete;
  return parser;
}
