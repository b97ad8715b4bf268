// TLS passthrough (a Gateway listener of protocol TLS, `tls.mode: Passthrough`, and its TLSRoutes):
// reads the server name of each connection's ClientHello without terminating TLS, picks the
// route's backend and endpoint, and pipes the raw stream both ways. A hello that does not arrive
// whole within its deadline is cut; one too large or malformed, or a name no route takes, is
// answered with a TLS alert and closed. No other connection waits on any of this.
// @see https://gateway-api.sigs.k8s.io/reference/spec/#gateway.networking.k8s.io/v1.TLSModeType
import { connect, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { CompiledRule, PortTable } from '../engine/table.js';
import { matchServerName } from '../engine/server-name.js';
import type { Binding, ProxyContext } from './context.js';
import type { ListeningSocket } from './server.js';
import type { HelloErrorCode } from './client-hello.js';
import { parseClientHello } from './client-hello.js';
import { endpointKey, pickBackend, pickEndpoint } from './balance.js';

export interface PassthroughLimits {
  /** Time for the whole ClientHello to arrive; a connection still without it is cut. */
  helloTimeoutMs: number;
  /** Largest ClientHello handshake message taken. */
  maxHelloBytes: number;
  /** Time to connect to the chosen endpoint. */
  upstreamConnectTimeoutMs: number;
  /** A connection that carries no byte either way for this long is closed. */
  streamIdleTimeoutMs: number;
}

/** TLS alert descriptions (RFC 8446 §6). */
const ALERT = { decode_error: 50, internal_error: 80, unrecognized_name: 112 } as const;

/**
 * A fatal alert as a plaintext record: the peer has not finished a handshake, so alerts are not
 * yet encrypted (RFC 8446 §6; §5.1 for the record header).
 */
function alertRecord(description: number): Buffer {
  return Buffer.from([21, 3, 3, 0, 2, 2, description]);
}

const alertFor = (code: HelloErrorCode): number => (code === 'bad_server_name' ? ALERT.unrecognized_name : ALERT.decode_error);

/** Opens a passthrough socket for `tables` (TLS ports) on host:port (port 0 picks one). */
export async function openPassthroughSocket(ctx: ProxyContext, limits: PassthroughLimits, host: string, port: number, tables: PortTable[]): Promise<ListeningSocket> {
  // Only `tables` is read here; the scheme is that of what the clients speak to the port.
  const binding: Binding = { tables, scheme: 'https' };
  const open = new Set<Duplex>();
  const track = (s: Duplex) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  // Half-open as TLS allows: a client that sent close_notify and ended its side still gets the rest.
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => serve(socket));

  function serve(client: Duplex): void {
    track(client);
    client.on('error', () => client.destroy());
    let held = Buffer.allocUnsafe(0);
    let size = 0;
    const hello = setTimeout(() => client.destroy(), limits.helloTimeoutMs);
    hello.unref();
    const refuse = (description: number) => {
      client.off('data', onData);
      clearTimeout(hello);
      // Whatever more it sends is read and dropped until it closes on the alert (or the deadline).
      client.resume();
      client.end(alertRecord(description));
      setTimeout(() => client.destroy(), limits.helloTimeoutMs).unref();
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > held.length) {
        // Grows by doubling; never beyond twice the hello's bound (record headers included).
        const capacity = Math.max(size + chunk.length, Math.min(2 * limits.maxHelloBytes + 64, held.length * 2), 1024);
        const next = Buffer.allocUnsafe(capacity);
        held.copy(next, 0, 0, size);
        held = next;
      }
      chunk.copy(held, size);
      size += chunk.length;
      const data = held.subarray(0, size);
      const result = parseClientHello(data, limits.maxHelloBytes);
      if (result.state === 'incomplete') {
        if (size > 2 * limits.maxHelloBytes + 64) refuse(ALERT.decode_error);
        return;
      }
      if (result.state === 'refused') return refuse(alertFor(result.code));
      client.off('data', onData);
      client.pause();
      clearTimeout(hello);
      let rule: CompiledRule | undefined;
      for (const t of binding.tables) if (t.serverNames && (rule = matchServerName(t.serverNames, result.serverName))) break;
      if (!rule) return refuse(ALERT.unrecognized_name);
      const backend = pickBackend(rule, ctx.random);
      const endpoint = backend?.endpoints && pickEndpoint(backend.endpoints, ctx.breakers);
      if (!backend || !endpoint) return refuse(ALERT.internal_error);
      forward(client, data, backend.key, endpointKey(endpoint), endpoint.host, endpoint.port, refuse);
    };
    client.on('data', onData);
  }

  function forward(client: Duplex, first: Buffer, backendKey: string, key: string, host: string, port: number, refuse: (d: number) => void): void {
    const upstream: Socket = connect({ host, port, allowHalfOpen: true, noDelay: true });
    track(upstream);
    let connected = false;
    const deadline = setTimeout(() => upstream.destroy(new Error('connect timeout')), limits.upstreamConnectTimeoutMs);
    deadline.unref();
    const clientGone = () => {
      if (connected) return;
      // The client went away first: nothing was learnt of the endpoint.
      clearTimeout(deadline);
      ctx.breakers.release(key);
      upstream.destroy();
    };
    client.once('close', clientGone);
    upstream.once('error', (err) => {
      if (connected) return;
      clearTimeout(deadline);
      client.off('close', clientGone);
      if (client.destroyed) return;
      ctx.breakers.failure(key);
      ctx.observer?.upstreamError(backendKey, (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'connection_refused' : 'connect_failed');
      refuse(ALERT.internal_error);
    });
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(deadline);
      client.off('close', clientGone);
      ctx.breakers.success(key);
      upstream.write(first);
      splice(client, upstream, limits.streamIdleTimeoutMs);
    });
  }

  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    binding,
    host,
    port: (server.address() as AddressInfo).port,
    setCertificates: () => [],
    serveConnection: serve,
    async close(graceMs) {
      // A passthrough stream has no point at which it may be closed politely: streams get the
      // grace to end on their own, then are cut.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const timer = setTimeout(() => {
        for (const s of open) s.destroy();
      }, graceMs);
      await Promise.all([closed, ...[...open].map((s) => new Promise((r) => s.once('close', r)))]);
      clearTimeout(timer);
    },
  };
}

/**
 * Pipes `a` and `b` into each other with backpressure. An end (FIN) is passed on as an end; a reset
 * or an error on one side destroys the other. Both close after `idleMs` without a byte.
 */
function splice(a: Duplex, b: Socket, idleMs: number): void {
  const cut = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', cut);
  b.on('error', cut);
  a.once('close', () => {
    if (!a.readableEnded) b.destroy();
  });
  b.once('close', () => {
    if (!b.readableEnded) a.destroy();
  });
  // The upstream socket reads one direction and writes the other: its idle timer is the stream's.
  b.setTimeout(idleMs, cut);
  a.pipe(b);
  b.pipe(a);
  a.resume();
}
