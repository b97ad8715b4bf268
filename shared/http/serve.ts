// Serves a fetch handler on a port and drains in-flight requests on close (SIGTERM contract).
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// First: @hono/node-server reads the fetch globals as it loads (see ./web/globals.ts).
import './web/globals.js';
import { serve } from '@hono/node-server';
import { PlatformServerResponse } from './platform-response.js';

export type FetchHandler = (req: Request, env: any) => Response | Promise<Response>;

export interface RunningServer {
  readonly port: number;
  readonly server: Server;
  /** Stops accepting, waits for in-flight requests (at most `graceMs`), then closes every socket. */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts an HTTP/1.1 server (node:http); resolves once it is listening. Port 0 picks a free port.
 * Function bundles rely on it being HTTP/1.1: they leave out @hono/node-server's HTTP/2 support
 * (http1Only in scripts/bundle.ts).
 */
export function listen(fetch: FetchHandler, opts: { port: number; host?: string }): Promise<RunningServer> {
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const counted: FetchHandler = async (req, env) => {
    inFlight++;
    try {
      return await fetch(req, env);
    } finally {
      inFlight--;
      if (inFlight === 0 && idle) idle();
    }
  };
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: counted, port: opts.port, hostname: opts.host ?? '0.0.0.0', serverOptions: { ServerResponse: PlatformServerResponse } }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        server: server as Server,
        close: async (graceMs = 10_000) => {
          const s = server as Server;
          const closed = new Promise<void>((r) => s.close(() => r()));
          s.closeIdleConnections();
          if (inFlight > 0) {
            await Promise.race([
              new Promise<void>((r) => (idle = r)),
              new Promise<void>((r) => setTimeout(r, graceMs).unref()),
            ]);
          }
          s.closeAllConnections();
          await closed;
        },
      });
    }) as Server;
    server.once('error', reject);
    // Bound slow clients: a request's headers must arrive within 10 s, the whole request within 60 s.
    server.headersTimeout = 10_000;
    server.requestTimeout = 60_000;
    server.keepAliveTimeout = 5_000;
  });
}
