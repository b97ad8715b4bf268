// Conformance harness: loads upstream manifests, starts an echo backend per Service on
// 127.0.0.1 (with an EndpointSlice pointing at it), compiles, and serves every Gateway on
// its own ephemeral port so tests can send real HTTP requests through the proxy.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { request as httpRequest } from 'node:http';
import type { CompiledConfig, EndpointSlice, Ingress, IngressOptions, ResourceSet } from '#functions/ingress/index';
import { compile, createIngress, emptyResourceSet, nsOf, parseManifests } from '#functions/ingress/index';
import type { EchoBackend, EchoResponse } from './echo-server.js';
import { startEcho } from './echo-server.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Text of an upstream manifest, e.g. `v1.2.1/tests/httproute-matching.yaml`. */
function upstream(file: string): string {
  return readFileSync(join(here, 'upstream', file), 'utf8').replaceAll('{GATEWAY_CLASS_NAME}', 'zenokube');
}

export interface Conformance {
  set: ResourceSet;
  config: CompiledConfig;
  ingress: Ingress;
  backends: Map<string, EchoBackend>;
  send(gateway: string, req: Req): Promise<Res>;
  close(): Promise<void>;
}

export interface Req {
  host?: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  port?: number;
  body?: string;
}

export interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  echo: EchoResponse | undefined;
}

/** Loads base + test manifests, starts backends and the ingress. */
export async function setup(files: string[], opts: Partial<IngressOptions> & { base?: string; extra?: string } = {}): Promise<Conformance> {
  const set = emptyResourceSet();
  for (const f of [opts.base ?? 'v1.2.1/base/manifests.yaml', ...files]) {
    const { problems } = parseManifests(upstream(f), f, set);
    const real = problems.filter((p) => !p.message.includes('is not used'));
    if (real.length > 0) throw new Error(`manifest problems: ${JSON.stringify(real)}`);
  }
  if (opts.extra) parseManifests(opts.extra, 'extra', set);
  const backends = new Map<string, EchoBackend>();
  for (const svc of set.services) {
    const echo = await startEcho(svc.metadata.name, nsOf(svc));
    backends.set(`${nsOf(svc)}/${svc.metadata.name}`, echo);
    const slice: EndpointSlice = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${svc.metadata.name}-abc`, namespace: nsOf(svc), labels: { 'kubernetes.io/service-name': svc.metadata.name } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
      ports: (svc.spec?.ports ?? []).map((p) => ({ name: p.name ?? '', port: echo.port, protocol: 'TCP' })),
    };
    set.endpointSlices.push(slice);
  }
  const config = compile(set);
  const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port: 0 }], drainMs: 100, ...opts });
  await ingress.apply(config);
  return {
    set,
    config,
    ingress,
    backends,
    send: (gateway, req) => send(ingress, gateway, req),
    async close() {
      await ingress.close();
      await Promise.all([...backends.values()].map((b) => b.close()));
    },
  };
}

/** One request through a gateway's listener port; a fresh connection each time. */
function send(ingress: Ingress, gateway: string, req: Req): Promise<Res> {
  const key = gateway.includes('/') ? gateway : `gateway-conformance-infra/${gateway}`;
  const addr = ingress.address(key, req.port ?? 80);
  if (!addr) throw new Error(`gateway ${key} does not listen on ${req.port ?? 80}`);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      { host: addr.host, port: addr.port, method: req.method ?? 'GET', path: req.path, headers: { host: req.host ?? 'example.com', ...req.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let echo: EchoResponse | undefined;
          if ((res.headers['content-type'] ?? '').startsWith('application/json')) echo = JSON.parse(text) as EchoResponse;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, echo });
        });
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** A header the backend received (first value), by lower-case name. */
export const got = (res: Res, name: string): string | undefined => res.echo?.headers[name.toLowerCase()]?.join(',');
