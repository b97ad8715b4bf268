// Which protocol a listener's new connection speaks: a TLS connection whose ALPN chose h2 (RFC 9113
// §3.2), or, where a listener opts in, a cleartext one that opens with the HTTP/2 connection preface
// (h2c "prior knowledge", RFC 9113 §3.3), goes to the HTTP/2 server; every other one to node's
// http server as before. The http server's own connection listener is taken from its emitter
// and called for HTTP/1.1 connections, so their handling (parser, deadlines, limits) is unchanged.
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { H2Server } from './h2-server.js';

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

type ConnectionListener = (this: HttpServer, socket: Socket) => void;

/** Hands TLS connections that negotiated h2 to `h2`; `server` is an https server with ALPN offering h2. */
export function dispatchAlpn(server: HttpServer, h2: H2Server): void {
  const http1 = takeListener(server, 'secureConnection');
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') h2.serve(socket);
    else http1.call(server, socket);
  });
}

/**
 * Hands cleartext connections that begin with the HTTP/2 preface to `h2` while `enabled()` says so;
 * the bytes read to tell are put back before either server reads the connection.
 */
export function dispatchPriorKnowledge(server: HttpServer, h2: H2Server, enabled: () => boolean): void {
  const http1 = takeListener(server, 'connection');
  server.on('connection', (socket: Socket) => {
    if (!enabled()) return http1.call(server, socket);
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, PREFACE.length);
      const prefix = seen.subarray(0, n).equals(PREFACE.subarray(0, n));
      if (prefix && n < PREFACE.length) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      socket.unshift(seen);
      if (prefix) h2.serve(socket);
      else {
        http1.call(server, socket);
        // The bytes put back reach node's parser once the socket flows again.
        socket.resume();
      }
    };
    const onClose = () => socket.off('data', onData);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', () => socket.destroy());
  });
}

/** Removes and returns the listener node's server put on `event` for its own protocol. */
function takeListener(server: HttpServer, event: 'connection' | 'secureConnection'): ConnectionListener {
  const own = server.listeners(event) as ConnectionListener[];
  if (own.length !== 1) throw new TypeError(`expected node's one ${event} listener, found ${own.length}`);
  server.removeListener(event, own[0]!);
  return own[0]!;
}
