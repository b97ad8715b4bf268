import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { certificateExpiryGauge } from './cert-expiry.js';

/** A self-signed certificate made with the openssl CLI, valid for `days`. */
function certificate(dir: string, cn: string, days: number): string {
  const key = join(dir, `${cn}.key`);
  const cert = join(dir, `${cn}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', String(days), '-subj', `/CN=${cn}`], { stdio: 'ignore' });
  return readFileSync(cert, 'utf8');
}

describe('zeno_ingress_certificate_expiry_timestamp_seconds', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'zk-cert-expiry-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('exposes the notAfter of every served certificate per gateway, port and hostname, and follows a renewal', async () => {
    const shortLived = certificate(dir, 'a.example', 2);
    const longLived = certificate(dir, 'b.example', 90);
    const registry = new Registry();
    let certs = [{ hostname: 'a.example' as string | undefined, cert: shortLived }, { hostname: undefined, cert: longLived }, { hostname: 'bad.example', cert: '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n' }];
    certificateExpiryGauge(registry, () => ({ gateways: [{ key: 'zenokube-system/zenokube', ports: new Map([[443, { certificates: certs }]]) }] }));
    const read = async () => {
      const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'zeno_ingress_certificate_expiry_timestamp_seconds')!;
      return new Map((metric as unknown as { values: { labels: Record<string, string>; value: number }[] }).values.map((v) => [`${v.labels.gateway} ${v.labels.port} ${v.labels.hostname}`, v.value]));
    };
    const now = Date.now() / 1000;
    const first = await read();
    assert.deepEqual([...first.keys()].sort(), ['zenokube-system/zenokube 443 *', 'zenokube-system/zenokube 443 a.example'], 'an unreadable certificate is left out');
    const days = (s: number) => Math.round((s - now) / 86400);
    assert.equal(days(first.get('zenokube-system/zenokube 443 a.example')!), 2);
    assert.equal(days(first.get('zenokube-system/zenokube 443 *')!), 90);
    certs = [{ hostname: 'a.example', cert: certificate(dir, 'a.example', 30) }];
    const renewed = await read();
    assert.deepEqual([...renewed.keys()], ['zenokube-system/zenokube 443 a.example']);
    assert.equal(days(renewed.get('zenokube-system/zenokube 443 a.example')!), 30);
  });

  it('exposes nothing before a configuration is in force', async () => {
    const registry = new Registry();
    certificateExpiryGauge(registry, () => undefined);
    assert.doesNotMatch(await registry.metrics(), /^zeno_ingress_certificate_expiry_timestamp_seconds\{/m);
  });
});
