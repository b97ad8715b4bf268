// Gateway API conformance, references and invalid routes: ReferenceGrant, cross-namespace
// attachment, invalid backendRefs and parentRefs, listener ports, omitted backends, retries.
// Each describe mirrors the upstream test of the same name (v1.2.1, plus v1.6.1 additions).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Conformance } from './harness.js';
import { setup } from './harness.js';

function suite(name: string, files: string[], body: (c: () => Conformance) => void): void {
  describe(name, () => {
    let c: Conformance;
    before(async () => (c = await setup(files)));
    after(() => c.close());
    body(() => c);
  });
}

function parentConditions(c: Conformance, route: string): Record<string, { status: string; reason: string }> {
  const parents = c.config.status.routes.get(route)?.parents ?? [];
  assert.equal(parents.length, 1, `one parent status on ${route}`);
  return Object.fromEntries(parents[0]!.conditions.map((x) => [x.type, { status: x.status, reason: x.reason }]));
}

suite('HTTPRouteCrossNamespace', ['v1.2.1/tests/httproute-cross-namespace.yaml'], (c) => {
  it('attaches a route from a selected namespace and routes to its backend', async () => {
    const cond = parentConditions(c(), 'gateway-conformance-web-backend/cross-namespace');
    assert.deepEqual(cond.Accepted, { status: 'True', reason: 'Accepted' });
    assert.deepEqual(cond.ResolvedRefs, { status: 'True', reason: 'ResolvedRefs' });
    const r = await c().send('backend-namespaces', { path: '/' });
    assert.equal(r.echo?.service, 'web-backend');
    assert.equal(r.echo?.namespace, 'gateway-conformance-web-backend');
  });
});

suite('HTTPRouteReferenceGrant', ['v1.2.1/tests/httproute-reference-grant.yaml'], (c) => {
  it('routes to a Service in another namespace that a ReferenceGrant allows', async () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/reference-grant').ResolvedRefs, { status: 'True', reason: 'ResolvedRefs' });
    assert.equal((await c().send('same-namespace', { path: '/' })).echo?.service, 'web-backend');
  });
});

suite('HTTPRouteInvalidReferenceGrant', ['v1.2.1/tests/httproute-invalid-reference-grant.yaml'], (c) => {
  it('ignores grants in the wrong namespace or for the wrong group, kind or name: RefNotPermitted and 500', async () => {
    const cond = parentConditions(c(), 'gateway-conformance-infra/reference-grant');
    assert.deepEqual(cond.ResolvedRefs, { status: 'False', reason: 'RefNotPermitted' });
    assert.equal(cond.Accepted!.status, 'True');
    assert.equal((await c().send('same-namespace', { path: '/' })).status, 500);
  });
});

suite('HTTPRoutePartiallyInvalidViaInvalidReferenceGrant', ['v1.2.1/tests/httproute-partially-invalid-via-invalid-reference-grant.yaml'], (c) => {
  it('serves the valid rule and answers 500 for the rule whose reference is not permitted', async () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/invalid-reference-grant').ResolvedRefs, { status: 'False', reason: 'RefNotPermitted' });
    assert.equal((await c().send('same-namespace', { path: '/' })).echo?.service, 'app-backend-v1');
    assert.equal((await c().send('same-namespace', { path: '/v2' })).status, 500);
  });
});

suite('HTTPRouteInvalidCrossNamespaceBackendRef', ['v1.2.1/tests/httproute-invalid-cross-namespace-backend-ref.yaml'], (c) => {
  it('reports RefNotPermitted and answers 500', async () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/invalid-cross-namespace-backend-ref').ResolvedRefs, { status: 'False', reason: 'RefNotPermitted' });
    assert.equal((await c().send('same-namespace', { path: '/' })).status, 500);
  });
});

suite('HTTPRouteInvalidCrossNamespaceParentRef', ['v1.2.1/tests/httproute-invalid-cross-namespace-parent-ref.yaml'], (c) => {
  it('is not accepted by a From: Same listener and receives no traffic', async () => {
    const cond = parentConditions(c(), 'gateway-conformance-web-backend/invalid-cross-namespace-parent-ref');
    assert.deepEqual(cond.Accepted, { status: 'False', reason: 'NotAllowedByListeners' });
    assert.equal((await c().send('same-namespace', { path: '/' })).status, 404);
  });
});

suite('HTTPRouteInvalidNonExistentBackendRef', ['v1.2.1/tests/httproute-invalid-nonexistent-backendref.yaml'], (c) => {
  it('reports BackendNotFound and answers 500', async () => {
    const cond = parentConditions(c(), 'gateway-conformance-infra/invalid-nonexistent-backend-ref');
    assert.deepEqual(cond.ResolvedRefs, { status: 'False', reason: 'BackendNotFound' });
    assert.equal(cond.Accepted!.status, 'True');
    assert.equal((await c().send('same-namespace', { path: '/' })).status, 500);
  });
});

suite('HTTPRouteInvalidBackendRefUnknownKind', ['v1.2.1/tests/httproute-invalid-backendref-unknown-kind.yaml'], (c) => {
  it('reports InvalidKind and answers 500', async () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/invalid-backend-ref-unknown-kind').ResolvedRefs, { status: 'False', reason: 'InvalidKind' });
    assert.equal((await c().send('same-namespace', { path: '/' })).status, 500);
  });
});

suite('HTTPRouteInvalidParentRefNotMatchingListenerPort', ['v1.2.1/tests/httproute-invalid-parentref-not-matching-listener-port.yaml'], (c) => {
  it('reports NoMatchingParent', async () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/httproute-listener-not-matching-route-port').Accepted, { status: 'False', reason: 'NoMatchingParent' });
    assert.equal((await c().send('same-namespace', { path: '/' })).status, 404);
  });
});

suite('HTTPRouteInvalidParentRefNotMatchingSectionName', ['v1.2.1/tests/httproute-invalid-parentref-not-matching-section-name.yaml'], (c) => {
  it('reports NoMatchingParent', () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/httproute-listener-not-matching-section-name').Accepted, { status: 'False', reason: 'NoMatchingParent' });
  });
});

suite('HTTPRouteInvalidParentRefSectionNameNotMatchingPort', ['v1.2.1/tests/httproute-invalid-parentref-section-name-not-matching-port.yaml'], (c) => {
  it('reports NoMatchingParent when sectionName and port name different listeners', () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/httproute-listener-section-name-not-matching-port').Accepted, { status: 'False', reason: 'NoMatchingParent' });
  });
});

suite('HTTPRouteDisallowedKind', ['v1.2.1/tests/httproute-disallowed-kind.yaml'], (c) => {
  it('is not accepted by a listener that only allows TLSRoute', () => {
    assert.deepEqual(parentConditions(c(), 'gateway-conformance-infra/disallowed-kind').Accepted, { status: 'False', reason: 'NotAllowedByListeners' });
  });
});

suite('HTTPRouteListenerPortMatching', ['v1.2.1/tests/httproute-listener-port-matching.yaml'], (c) => {
  const gw = 'httproute-listener-port-matching';
  it('attaches by parentRef port and serves each port separately', async () => {
    assert.equal((await c().send(gw, { port: 80, host: 'foo.com', path: '/' })).echo?.service, 'infra-backend-v1');
    assert.equal((await c().send(gw, { port: 8080, host: 'foo.com', path: '/' })).echo?.service, 'infra-backend-v2');
    assert.equal((await c().send(gw, { port: 8080, host: 'bar.com', path: '/' })).echo?.service, 'infra-backend-v2');
    assert.equal((await c().send(gw, { port: 8090, host: 'foo.com', path: '/' })).echo?.service, 'infra-backend-v3');
    assert.equal((await c().send(gw, { port: 8090, host: 'bar.com', path: '/' })).status, 404);
    assert.equal((await c().send(gw, { port: 80, host: 'bar.com', path: '/' })).status, 404);
  });
});

suite('HTTPRouteOmittedBackendRefs (v1.6.1)', ['v1.6.1/httproute-omitted-backendrefs.yaml'], (c) => {
  it('answers 500 for rules without backends and forwards the rest', async () => {
    assert.equal((await c().send('same-namespace', { path: '/omitted-no-forward' })).status, 500);
    assert.equal((await c().send('same-namespace', { path: '/empty-no-forward' })).status, 500);
    assert.equal((await c().send('same-namespace', { path: '/other' })).echo?.service, 'infra-backend-v1');
  });
});

suite('HTTPRouteRetry (v1.6.1, GEP-1731)', ['v1.6.1/httproute-retry.yaml'], (c) => {
  const hits = () => c().backends.get('gateway-conformance-infra/infra-backend-v3')!.received.length;
  it('retries a listed status code up to `attempts` times', async () => {
    const before = hits();
    const r = await c().send('same-namespace', { path: '/retry/code-500-attempts-3?status=500' });
    assert.equal(r.status, 500);
    assert.equal(hits() - before, 4);
  });
  it('does not retry a status that is not listed', async () => {
    const before = hits();
    assert.equal((await c().send('same-namespace', { path: '/retry/code-500-attempts-3?status=502' })).status, 502);
    assert.equal(hits() - before, 1);
  });
  it('does not replay a request with a body', async () => {
    const before = hits();
    const r = await c().send('same-namespace', { path: '/retry/code-all-attempts-2?status=503', method: 'POST', body: 'x' });
    assert.equal(r.status, 503);
    assert.equal(hits() - before, 1);
  });
});
