// A client's request body as the proxy forwards it. No upstream connection is taken until the body
// has ended or its first `limit` bytes have arrived: a client that trickles a small body holds only
// its own connection (until node's request deadline answers 408), never one of the endpoint's.
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * A body larger than the buffer: the bytes read so far, then the rest as it arrives (paused until
 * read). The rest closing before its end means the client's body was cut short.
 */
export interface StreamedBody {
  readonly head: Buffer[];
  readonly rest: Readable;
}

/** None, the whole body in memory (it can be sent again), or a stream. */
export type RequestBody = null | Buffer | StreamedBody;

/** What `bufferBody` hands over when the body grew past the route's limit before the buffer filled. */
export const TOO_LARGE = Symbol('too large');

/** Whether a request carries a body: node's parser has already refused conflicting framing. */
export function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  if (h['transfer-encoding'] !== undefined) return true;
  const len = h['content-length'];
  return len !== undefined && len !== '0';
}

/**
 * Reads `req`'s body until it ends (a Buffer) or `limit` bytes are in (a StreamedBody, the rest
 * paused), then calls `done`; TOO_LARGE when more than `max` bytes came first. A client that goes
 * away first never gets `done`: the response's close ends the exchange.
 */
export function bufferBody(req: IncomingMessage, limit: number, max: number, done: (body: RequestBody | typeof TOO_LARGE) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    size += chunk.length;
    if (size > max) {
      stop();
      req.pause();
      chunks.length = 0;
      done(TOO_LARGE);
    } else if (size >= limit) {
      stop();
      req.pause();
      done({ head: chunks, rest: req });
    }
  };
  const onEnd = () => {
    stop();
    done(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const stop = () => {
    req.off('data', onData);
    req.off('end', onEnd);
  };
  req.on('data', onData);
  req.on('end', onEnd);
}

/** Whether a body can be sent a second time (a retry): none, or held whole. */
export const replayable = (body: RequestBody): body is null | Buffer => body === null || Buffer.isBuffer(body);
