// What the ingress attack tests share: a legitimate client that keeps sending requests beside an
// attack and counts how many succeed, raw sockets that write exact bytes, a backend that records
// what reached it, and an ingress on one Gateway in front of named backends.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Agent, request } from 'node:http';
import type { Ingress, IngressOptions } from '#functions/ingress/index';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import { backendYaml, gatewayYaml, httpRouteYaml, prefixRule, yamlStream } from '#tests/support/gateway-yaml';

/** How a run of legitimate requests went. */
interface Tally {
  ok: number;
  failed: number;
  /** The first few failures, for the assertion message. */
  failures: string[];
}

/** Legitimate traffic running until stopped (after at least `min` requests) or `max` are done. */
interface Traffic {
  stop(): Promise<Tally>;
}

/**
 * Keep-alive GETs of `url` from `concurrency` workers; each must answer 200 with `expect` in its
 * body within `boundMs` (a request that takes longer counts as failed, it is not a measurement).
 */
export function legitimate(url: string, opts: { min: number; max: number; concurrency?: number; expect?: string; boundMs?: number }): Traffic {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 4 });
  const tally: Tally = { ok: 0, failed: 0, failures: [] };
  let stopped = false;
  const done = () => tally.ok + tally.failed;
  const one = () =>
    new Promise<void>((resolve) => {
      const fail = (why: string) => {
        tally.failed++;
        if (tally.failures.length < 5) tally.failures.push(why);
        resolve();
      };
      const req = request(url, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('error', (err) => fail(err.message));
        res.on('end', () => {
          if (res.statusCode === 200 && (!opts.expect || body.includes(opts.expect))) {
            tally.ok++;
            resolve();
          } else fail(`${res.statusCode} ${body.slice(0, 120)}`);
        });
      });
      req.setTimeout(opts.boundMs ?? 15_000, () => req.destroy(new Error('no answer within the bound')));
      req.on('error', (err) => fail(err.message));
      req.end();
    });
  const worker = async () => {
    while (!(stopped && done() >= opts.min) && done() < opts.max) await one();
  };
  const workers = Array.from({ length: opts.concurrency ?? 4 }, worker);
  return {
    async stop() {
      stopped = true;
      await Promise.all(workers);
      agent.destroy();
      return tally;
    },
  };
}

/** The legitimate client kept at least 99.9% of its requests answered, over at least `min`. */
export function assertServed(t: Tally, min: number): void {
  assert.ok(t.ok + t.failed >= min, `only ${t.ok + t.failed} legitimate requests ran`);
  assert.ok(t.ok / (t.ok + t.failed) >= 0.999, `legitimate requests: ${t.ok} answered, ${t.failed} failed (${t.failures.join('; ')})`);
}

/** A raw client connection. */
export function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves when the peer has closed its side of `s` (or the connection is gone). */
export function ended(s: Socket): Promise<void> {
  return new Promise((r) => {
    if (s.destroyed || s.readableEnded) return r();
    s.once('end', () => r());
    s.once('close', () => r());
  });
}

/** Writes `bytes` on a fresh connection and returns what comes back until the proxy closes it. */
export async function exchange(port: number, ...writes: (string | Buffer)[]): Promise<string> {
  const s = await open(port);
  let out = '';
  s.on('data', (d: Buffer) => (out += d.toString('latin1')));
  const closed = ended(s);
  for (const w of writes) s.write(typeof w === 'string' ? Buffer.from(w, 'latin1') : w);
  await closed;
  s.destroy();
  return out;
}

/** A request as a backend saw it. */
export interface Seen {
  method: string;
  path: string;
  /** The body ended as its framing said (it was not cut short). */
  complete: boolean;
  bytes: number;
}

export interface RecordingBackend {
  readonly port: number;
  readonly seen: Seen[];
  close(): Promise<void>;
}

/**
 * A backend that records every request and answers once its body has ended: `ok <path>`, or for
 * `/big?bytes=N` N bytes written with backpressure.
 */
export async function recordingBackend(): Promise<RecordingBackend> {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const rec: Seen = { method: req.method ?? '', path: req.url ?? '', complete: false, bytes: 0 };
    seen.push(rec);
    req.on('data', (d: Buffer) => (rec.bytes += d.length));
    req.on('error', () => {});
    req.on('end', () => {
      rec.complete = true;
      const big = /\/big\?bytes=(\d+)/.exec(rec.path);
      if (!big) return void res.end(`ok ${rec.path}`);
      let left = Number(big[1]);
      res.writeHead(200, { 'content-length': left });
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const write = () => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** An ingress serving one Gateway (t/gw, port 80) whose route sends `/<name>` to each backend. */
export async function ingressFor(backends: Record<string, number>, opts: Partial<IngressOptions> = {}): Promise<{ ingress: Ingress; port: number }> {
  const names = Object.keys(backends);
  const yaml = yamlStream(
    gatewayYaml({ name: 'gw', namespace: 't' }),
    httpRouteYaml({ name: 'r', namespace: 't', gateway: 'gw', rules: names.map((n) => prefixRule(`/${n}`, n)) }),
    ...names.map((n) => backendYaml(n, 't', backends[n]!)),
  );
  const { set, problems } = parseManifests(yaml, 'attacks');
  assert.deepEqual(problems, []);
  const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, ...opts });
  await ingress.apply(compile(set));
  return { ingress, port: ingress.address('t/gw', 80)!.port };
}
