// When each served TLS certificate expires, as a Prometheus gauge per Gateway listener (gateway,
// port, hostname): the certificate-expiry alert fires on it. Read from the configuration in force
// at each scrape, so a renewed Secret shows its new date as soon as the ingress serves it.
import { X509Certificate } from 'node:crypto';
import { Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

/** The part of a compiled configuration this gauge reads (engine/compile.ts CompiledConfig). */
interface ServedCertificates {
  gateways: readonly { key: string; ports: ReadonlyMap<number, { certificates: readonly { hostname: string | undefined; cert: string }[] }> }[];
}

/** `notAfter` of the first (leaf) certificate of a PEM chain, in Unix seconds; undefined when unreadable. */
function notAfterSeconds(pem: string): number | undefined {
  try {
    const ms = Date.parse(new X509Certificate(pem).validTo);
    return Number.isFinite(ms) ? ms / 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function certificateExpiryGauge(registry: Registry, current: () => ServedCertificates | undefined): void {
  // Parsed once per PEM; the cache is rebuilt at each scrape so replaced certificates leave it.
  let parsed = new Map<string, number | undefined>();
  new Gauge({
    name: 'zeno_ingress_certificate_expiry_timestamp_seconds',
    help: 'notAfter of the TLS certificate served by each Gateway listener (gateway, port, hostname; * for the port default), in Unix seconds.',
    labelNames: ['gateway', 'port', 'hostname'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const next = new Map<string, number | undefined>();
      for (const gw of current()?.gateways ?? []) {
        for (const [port, table] of gw.ports) {
          for (const c of table.certificates) {
            const at = next.has(c.cert) ? next.get(c.cert) : parsed.has(c.cert) ? parsed.get(c.cert) : notAfterSeconds(c.cert);
            next.set(c.cert, at);
            if (at !== undefined) this.set({ gateway: gw.key, port: String(port), hostname: c.hostname ?? '*' }, at);
          }
        }
      }
      parsed = next;
    },
  });
}
