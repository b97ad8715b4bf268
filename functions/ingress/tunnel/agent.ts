// The agent: dials each edge over TLS (the edge's certificate verified; a client certificate when
// given), upgrades to the tunnel protocol with a ZenoAuth access token and the hostnames it serves,
// then serves every stream the edge opens through the local ingress engine, as a connection of a
// listener, with the client's address from the stream's PROXY header. A session that ends is dialled
// again after a jittered exponential backoff; close() says GoAway and lets in-flight streams finish.
// When the hostnames change (setHostnames), each live link registers them make-before-break: a new
// session with the new list first, then GoAway on the old one, whose streams finish; a refused or
// failed registration keeps the old session and is tried again after the backoff.
import { request } from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { createSession } from '#shared/yamux/index';
import type { YamuxSession } from '#shared/yamux/index';
import type { BackoffOptions } from './backoff.js';
import { backoffDelay } from './backoff.js';
import { HOSTNAMES_FIELD, TUNNEL_PATH, TUNNEL_PROTOCOL } from './handshake.js';
import { readProxyHeader } from './proxy-header.js';

export interface EdgeTarget {
  host: string;
  port: number;
  /** TLS options toward this edge: `ca` to trust, `servername`, `cert`/`key` for a client certificate. */
  tls?: Pick<ConnectionOptions, 'ca' | 'servername' | 'cert' | 'key'>;
}

export interface AgentOptions {
  /** One session per edge (several edge replicas: high availability). */
  edges: EdgeTarget[];
  /** The hostnames registered at the edges; setHostnames() changes them. */
  hostnames: string[];
  /** A current access token (client credentials of this site's client). */
  token: () => Promise<string>;
  /** Hands a stream to the local engine as a listener's connection; false when nothing takes it. */
  serve: (connection: Duplex) => boolean;
  /** Yamux keepalive toward the edge, milliseconds (default 15 000). */
  keepAliveMs?: number;
  backoff?: BackoffOptions;
  /** How long close() lets in-flight streams finish, milliseconds (default 10 000). */
  drainMs?: number;
  random?: () => number;
  onEvent?: (event: AgentEvent) => void;
}

export type AgentEvent =
  | { type: 'connected'; edge: string }
  | { type: 'disconnected'; edge: string; error?: Error }
  | { type: 'dial-failed'; edge: string; error: Error; retryInMs: number }
  | { type: 'registered'; edge: string; hostnames: string[] }
  | { type: 'register-failed'; edge: string; error: Error; retryInMs: number };

type LinkState = 'connecting' | 'connected' | 'waiting' | 'closed';

export interface LinkStatus {
  edge: string;
  state: LinkState;
  /** Sessions established so far (reconnects are this minus one). */
  sessions: number;
  streams: number;
  rttMs: number | undefined;
  /** Counters of the live session (zero while none is up). */
  bytesIn: number;
  bytesOut: number;
  windowStalls: number;
  lastError: string | undefined;
}

export interface TunnelAgent {
  status(): LinkStatus[];
  /** The hostnames registered now. */
  hostnames(): string[];
  /** Registers another list of hostnames at every edge (make-before-break); a no-op for the same list. */
  setHostnames(hostnames: string[]): void;
  /** Graceful: GoAway on every session, in-flight streams finish (up to `drainMs`), no redial. */
  close(): Promise<void>;
}

/** The edge refused the handshake: its status and problem code. */
class HandshakeRefused extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string) {
    super(`the edge refused the tunnel: ${status} ${code}`);
    this.name = 'HandshakeRefused';
    this.status = status;
    this.code = code;
  }
}

function dial(target: EdgeTarget, opts: AgentOptions, token: string, hostnames: string[]): Promise<YamuxSession> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: target.host,
      port: target.port,
      ...target.tls,
      // The edge's certificate is verified (node's default, stated so it cannot be lost).
      rejectUnauthorized: true,
      method: 'GET',
      path: TUNNEL_PATH,
      agent: false,
      timeout: 10_000,
      headers: { connection: 'Upgrade', upgrade: TUNNEL_PROTOCOL, authorization: `Bearer ${token}`, [HOSTNAMES_FIELD]: hostnames.join(', ') },
    });
    req.on('upgrade', (_res, socket, head) => {
      socket.setTimeout(0);
      // Small frames (a request head, a window update) must not wait for Nagle's algorithm.
      socket.setNoDelay(true);
      if (head.length > 0) socket.unshift(head);
      const keepAlive = opts.keepAliveMs ?? 15_000;
      resolve(createSession(socket, { side: 'client', keepAliveInterval: keepAlive, keepAliveTimeout: keepAlive }));
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () => {
        let code = 'refused';
        try {
          const parsed = JSON.parse(body) as { code?: unknown };
          if (typeof parsed.code === 'string') code = parsed.code;
        } catch {
          // Not a problem body: the status says enough.
        }
        reject(new HandshakeRefused(res.statusCode ?? 0, code));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('the tunnel handshake timed out')));
    req.on('error', reject);
    req.end();
  });
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Serves one incoming stream: its PROXY header first, then the engine takes it. */
function serveStream(stream: Duplex, serve: (c: Duplex) => boolean): void {
  stream.on('error', () => stream.destroy());
  readProxyHeader(stream).then(
    (client) => {
      if (client) Object.defineProperties(stream, { remoteAddress: { value: client.address }, remotePort: { value: client.port } });
      if (!serve(stream)) stream.destroy();
    },
    () => stream.destroy(),
  );
}

class Link {
  readonly name: string;
  state: LinkState = 'connecting';
  sessions = 0;
  lastError: string | undefined;
  session: YamuxSession | undefined;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #stopped = false;
  readonly #target: EdgeTarget;
  readonly #opts: AgentOptions;
  readonly #hostnames: () => string[];
  /** The hostnames the live session registered. */
  #registered: string[] = [];
  /** Re-registrations run one at a time. */
  #registering: Promise<void> = Promise.resolve();
  #retry: NodeJS.Timeout | undefined;
  #failures = 0;

  constructor(target: EdgeTarget, opts: AgentOptions, hostnames: () => string[]) {
    this.#target = target;
    this.#opts = opts;
    this.#hostnames = hostnames;
    this.name = `${target.host}:${target.port}`;
  }

  #adopt(session: YamuxSession, hostnames: string[]): void {
    this.session = session;
    this.#registered = hostnames;
    this.state = 'connected';
    this.sessions++;
    session.on('stream', (s: Duplex) => serveStream(s, this.#opts.serve));
  }

  /** The hostnames changed: a live session with another list is replaced, make-before-break. */
  reregister(): void {
    // Nothing in #reregister is expected to throw; were it to, the chain must still run the next one.
    this.#registering = this.#registering.then(() => this.#reregister()).catch(() => {});
  }

  async #reregister(): Promise<void> {
    clearTimeout(this.#retry);
    const old = this.session;
    const hostnames = this.#hostnames();
    // Not connected: the next dial registers the current list.
    if (!old || this.#stopped || sameList(hostnames, this.#registered)) return;
    const emit = this.#opts.onEvent ?? (() => {});
    let next: YamuxSession;
    try {
      next = await dial(this.#target, this.#opts, await this.#opts.token(), hostnames);
    } catch (err) {
      // The old session keeps serving the hostnames it registered; the change is tried again.
      const error = err as Error;
      this.lastError = error instanceof HandshakeRefused ? `${error.status} ${error.code}` : error.message;
      const retryInMs = backoffDelay(this.#failures++, this.#opts.backoff ?? {}, this.#opts.random ?? Math.random);
      emit({ type: 'register-failed', edge: this.name, error, retryInMs });
      if (!this.#stopped) this.#retry = setTimeout(() => this.reregister(), retryInMs);
      return;
    }
    if (this.#stopped || this.session !== old) {
      next.destroy();
      return;
    }
    this.#failures = 0;
    this.#adopt(next, hostnames);
    emit({ type: 'registered', edge: this.name, hostnames });
    // GoAway: the edge opens no new stream on the old session, whose streams finish.
    const timer = setTimeout(() => old.destroy(), this.#opts.drainMs ?? 10_000);
    void old.close().then(
      () => clearTimeout(timer),
      () => clearTimeout(timer),
    );
  }

  async run(): Promise<void> {
    const emit = this.#opts.onEvent ?? (() => {});
    let attempt = 0;
    while (!this.#stopped) {
      this.state = 'connecting';
      try {
        const hostnames = this.#hostnames();
        const session = await dial(this.#target, this.#opts, await this.#opts.token(), hostnames);
        if (this.#stopped) {
          session.destroy();
          break;
        }
        this.#adopt(session, hostnames);
        attempt = 0;
        emit({ type: 'connected', edge: this.name });
        // The list may have changed during the dial.
        this.reregister();
        // Until the current session ends: one replaced by a re-registration is not a disconnection.
        let error: Error | undefined;
        for (let current = this.session; current; current = this.session) {
          const live = current;
          error = live.closed ? undefined : await new Promise<Error | undefined>((r) => live.once('close', (e?: Error) => r(e ?? undefined)));
          if (this.session === current) break;
        }
        this.session = undefined;
        this.lastError = error?.message;
        emit({ type: 'disconnected', edge: this.name, ...(error ? { error } : {}) });
        if (this.#stopped) break;
      } catch (err) {
        const error = err as Error;
        this.lastError = error instanceof HandshakeRefused ? `${error.status} ${error.code}` : error.message;
        if (this.#stopped) break;
        const retryInMs = backoffDelay(attempt, this.#opts.backoff ?? {}, this.#opts.random ?? Math.random);
        emit({ type: 'dial-failed', edge: this.name, error, retryInMs });
        attempt++;
        this.state = 'waiting';
        await new Promise<void>((r) => {
          this.#wake = r;
          this.#timer = setTimeout(r, retryInMs);
        });
        continue;
      }
      // A session that ran and ended: dial again after the first step of the backoff.
      const retryInMs = backoffDelay(attempt++, this.#opts.backoff ?? {}, this.#opts.random ?? Math.random);
      this.state = 'waiting';
      await new Promise<void>((r) => {
        this.#wake = r;
        this.#timer = setTimeout(r, retryInMs);
      });
    }
    this.state = 'closed';
  }

  async stop(drainMs: number): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    const session = this.session;
    if (!session) return;
    const timer = setTimeout(() => session.destroy(), drainMs);
    await session.close();
    clearTimeout(timer);
  }
}

export function startAgent(opts: AgentOptions): TunnelAgent {
  if (opts.edges.length === 0) throw new TypeError('the agent needs at least one edge');
  if (opts.hostnames.length === 0) throw new TypeError('the agent needs at least one hostname');
  let hostnames = [...opts.hostnames].sort();
  const links = opts.edges.map((e) => new Link(e, opts, () => hostnames));
  const runs = links.map((l) => l.run());
  return {
    hostnames: () => hostnames,
    setHostnames(next) {
      if (next.length === 0) throw new TypeError('the agent needs at least one hostname');
      const sorted = [...next].sort();
      if (sameList(sorted, hostnames)) return;
      hostnames = sorted;
      for (const l of links) l.reregister();
    },
    status: () =>
      links.map((l) => ({
        edge: l.name,
        state: l.state,
        sessions: l.sessions,
        streams: l.session?.stats.streams ?? 0,
        rttMs: l.session?.stats.rttMs,
        bytesIn: l.session?.stats.bytesIn ?? 0,
        bytesOut: l.session?.stats.bytesOut ?? 0,
        windowStalls: l.session?.stats.windowStalls ?? 0,
        lastError: l.lastError,
      })),
    async close() {
      await Promise.all(links.map((l) => l.stop(opts.drainMs ?? 10_000)));
      await Promise.all(runs);
    },
  };
}
