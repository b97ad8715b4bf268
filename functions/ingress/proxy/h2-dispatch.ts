// The socket a listener listens with, and which server a new connection goes to: a TLS connection
// whose ALPN chose h2 (RFC 9113 §3.2), or, where a listener opts in, a cleartext one that opens
// with the HTTP/2 connection preface (h2c "prior knowledge", RFC 9113 §3.3), goes to the HTTP/2
// server; every other one to the HTTP/1.1 server. Both are handed their connections the way node
// documents for servers that do not accept their own: `server.emit('connection', socket)`.
import type { Server as HttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TlsOptions, TLSSocket } from 'node:tls';
import type { H2Server } from './h2-server.js';

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 §3.4). */
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Socket settings node's http server gives the connections it accepts itself. */
const SOCKET_OPTIONS = { noDelay: true, highWaterMark: 65_536 } as const;

/**
 * A TLS server offering h2 and http/1.1 by ALPN (HTTP/2 first; HTTP/1.1 for clients that offer
 * only it or no ALPN at all, RFC 7301) that hands each connection, once its handshake is done, to
 * `h2` or `http1`.
 */
export function acceptTls(tls: Pick<TlsOptions, 'SNICallback' | 'requestCert' | 'rejectUnauthorized'>, http1: HttpServer, h2: H2Server): TlsServer {
  const server = createTlsServer({ ...SOCKET_OPTIONS, ...tls, ALPNProtocols: ['h2', 'http/1.1'] });
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol === 'h2') h2.serve(socket);
    else http1.emit('connection', socket);
  });
  // A failed handshake ends its connection; there is no one to answer.
  server.on('tlsClientError', () => {});
  return server;
}

/**
 * A TCP server that hands connections beginning with the HTTP/2 preface to `h2` while
 * `priorKnowledge()` says so, and every other one to `http1`; the bytes read to tell are put back
 * before either server reads the connection.
 */
export function acceptCleartext(http1: HttpServer, h2: H2Server, priorKnowledge: () => boolean): NetServer {
  // Half-open as node's http server has them: a client that ended its side still gets its answer.
  const server = createNetServer({ ...SOCKET_OPTIONS, allowHalfOpen: true });
  server.on('connection', (socket: Socket) => {
    if (!priorKnowledge()) {
      http1.emit('connection', socket);
      return;
    }
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
        http1.emit('connection', socket);
        // The bytes put back reach node's parser once the socket flows again.
        socket.resume();
      }
    };
    const onClose = () => socket.off('data', onData);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.on('error', () => socket.destroy());
  });
  return server;
}
