// The Secrets the controller watches: certificate Secrets, and a listener's client certificate CA.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Gateway } from '../engine/resources.js';
import { referencedSecrets } from './watched.js';

const gateway = (tls: NonNullable<Gateway['spec']>['listeners'][number]['tls']): Gateway => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'edge', namespace: 'web' },
  spec: { gatewayClassName: 'zenokube', listeners: [{ name: 'https', port: 443, protocol: 'HTTPS', tls }] },
});

describe('referencedSecrets', () => {
  it('watches the client certificate CA Secret a listener names, in the Gateway namespace', () => {
    const set = { gateways: [gateway({ certificateRefs: [{ name: 'site' }], options: { 'zenokube.io/client-certificate': 'request', 'zenokube.io/client-certificate-ca': 'client-ca' } })], grants: [], extAuthFilters: [] };
    assert.deepEqual([...referencedSecrets(set)].sort(), ['web/client-ca', 'web/site']);
  });

  it('watches no CA Secret when none is named', () => {
    assert.deepEqual([...referencedSecrets({ gateways: [gateway({ certificateRefs: [{ name: 'site' }] })], grants: [], extAuthFilters: [] })], ['web/site']);
  });
});
