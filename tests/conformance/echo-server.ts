// Echo backends like the Gateway API conformance echo server: each answers with what it
// received (method, path, host, headers) and its own name, namespace and pod.
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoResponse {
  path: string;
  host: string;
  method: string;
  proto: string;
  headers: Record<string, string[]>;
  namespace: string;
  ingress: string;
  service: string;
  pod: string;
  body?: string;
}

export interface EchoBackend {
  readonly name: string;
  readonly namespace: string;
  readonly port: number;
  /** Requests received so far (mirrors are counted here too). */
  readonly received: EchoResponse[];
  close(): Promise<void>;
}

function headersOf(req: IncomingMessage): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) (out[req.rawHeaders[i]!.toLowerCase()] ??= []).push(req.rawHeaders[i + 1]!);
  return out;
}

/**
 * Starts an echo backend on 127.0.0.1. Query `?delay=ms` delays the answer (timeouts);
 * `?status=n` answers with that status; `?echo-body=1` returns the request body;
 * `X-Echo-Set-Header: Name:value,...` sets response headers.
 */
export async function startEcho(name: string, namespace: string): Promise<EchoBackend> {
  const received: EchoResponse[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body: EchoResponse = {
        path: req.url ?? '/',
        host: req.headers.host ?? '',
        method: req.method ?? '',
        proto: `HTTP/${req.httpVersion}`,
        headers: headersOf(req),
        namespace,
        ingress: '',
        service: name,
        pod: `${name}-pod`,
      };
      if (url.searchParams.get('echo-body')) body.body = Buffer.concat(chunks).toString('utf8');
      received.push(body);
      const send = () => {
        const status = Number(url.searchParams.get('status') ?? 200);
        const text = JSON.stringify(body);
        const headers: string[] = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(text))];
        // As the upstream echo server: `X-Echo-Set-Header: Name:value,Name2:value2` sets response headers.
        for (const pair of String(req.headers['x-echo-set-header'] ?? '').split(',')) {
          const colon = pair.indexOf(':');
          if (colon > 0) headers.push(pair.slice(0, colon).trim(), pair.slice(colon + 1).trim());
        }
        res.writeHead(status, headers);
        res.end(text);
      };
      const delay = Number(url.searchParams.get('delay') ?? 0);
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    name,
    namespace,
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
