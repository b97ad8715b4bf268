// Gateway API conformance, request matching: each describe mirrors the upstream test of the
// same name (conformance/tests/*.go, v1.2.1), with its manifests loaded verbatim from upstream/.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Conformance, Req } from './harness.js';
import { setup } from './harness.js';

type Case = Req & { backend?: string; status?: number; gateway?: string };

/** Sends each case and checks the backend that answered (or the status). */
async function expectAll(c: Conformance, gateway: string, cases: Case[]): Promise<void> {
  for (const k of cases) {
    const res = await c.send(k.gateway ?? gateway, k);
    const label = `${k.method ?? 'GET'} ${k.host ?? 'example.com'}${k.path} ${JSON.stringify(k.headers ?? {})}`;
    if (k.backend) {
      assert.equal(res.status, 200, label);
      assert.equal(res.echo?.service, k.backend, label);
    } else assert.equal(res.status, k.status ?? 404, label);
  }
}

function conformance(name: string, files: string[], gateway: string, cases: Case[]): void {
  describe(name, () => {
    let c: Conformance;
    before(async () => (c = await setup(files)));
    after(() => c.close());
    it('routes every request as upstream expects', () => expectAll(c, gateway, cases));
  });
}

const v1 = 'infra-backend-v1';
const v2 = 'infra-backend-v2';
const v3 = 'infra-backend-v3';

conformance('HTTPRouteSimpleSameNamespace', ['v1.2.1/tests/httproute-simple-same-namespace.yaml'], 'same-namespace', [{ path: '/', backend: v1 }]);

conformance('HTTPRouteMatching', ['v1.2.1/tests/httproute-matching.yaml'], 'same-namespace', [
  { path: '/', backend: v1 },
  { path: '/example', backend: v1 },
  { path: '/', headers: { version: 'one' }, backend: v1 },
  { path: '/v2', backend: v2 },
  { path: '/v2/example', backend: v2 },
  { path: '/', headers: { version: 'two' }, backend: v2 },
  { path: '/v2example', backend: v1 },
]);

conformance('HTTPRouteExactPathMatching', ['v1.2.1/tests/httproute-exact-path-matching.yaml'], 'same-namespace', [
  { path: '/one', backend: v1 },
  { path: '/two', backend: v2 },
  { path: '/three', status: 404 },
  { path: '/one/example', status: 404 },
  { path: '/two/', status: 404 },
]);

conformance('HTTPRoutePathMatchOrder', ['v1.2.1/tests/httproute-path-match-order.yaml'], 'same-namespace', [
  { path: '/match/exact/one', backend: v3 },
  { path: '/match/exact', backend: v2 },
  { path: '/match', backend: v1 },
  { path: '/match/prefix/one/any', backend: v2 },
  { path: '/match/prefix/any', backend: v1 },
  { path: '/match/any', backend: v3 },
]);

conformance('HTTPRouteHeaderMatching', ['v1.2.1/tests/httproute-header-matching.yaml'], 'same-namespace', [
  { path: '/', headers: { version: 'one' }, backend: v1 },
  { path: '/', headers: { version: 'two' }, backend: v2 },
  { path: '/', headers: { version: 'two', color: 'orange' }, backend: v1 },
  { path: '/', headers: { color: 'blue' }, backend: v1 },
  { path: '/', headers: { color: 'green' }, backend: v1 },
  { path: '/', headers: { color: 'red' }, backend: v2 },
  { path: '/', headers: { color: 'yellow' }, backend: v2 },
  { path: '/', headers: { Version: 'one' }, backend: v1 },
  { path: '/', headers: { version: 'ONE' }, status: 404 },
  { path: '/', headers: { color: 'orange' }, status: 404 },
  { path: '/', headers: { version: 'three' }, status: 404 },
]);

conformance('HTTPRouteQueryParamMatching', ['v1.2.1/tests/httproute-query-param-matching.yaml'], 'same-namespace', [
  { path: '/?animal=whale', backend: v1 },
  { path: '/?animal=dolphin', backend: v2 },
  { path: '/?animal=dolphin&color=blue', backend: v3 },
  { path: '/?ANIMAL=Whale', backend: v3 },
  { path: '/?animal=whale&otherparam=irrelevant', backend: v1 },
  { path: '/?animal=dolphin&color=yellow', backend: v2 },
  { path: '/?color=blue', status: 404 },
  { path: '/?animal=dog', status: 404 },
  { path: '/?animal=whaledolphin', status: 404 },
  { path: '/', status: 404 },
  { path: '/path1?animal=whale', backend: v1 },
  { path: '/?animal=whale', headers: { version: 'one' }, backend: v2 },
  { path: '/path2?animal=whale', headers: { version: 'two' }, backend: v3 },
  { path: '/path3?animal=shark', backend: v1 },
  { path: '/path4?animal=kraken', headers: { version: 'three' }, backend: v1 },
  { path: '/path5?animal=hydra', backend: v1 },
  { path: '/?animal=hydra', backend: v2 },
  { path: '/?animal=hydra', headers: { version: 'four' }, backend: v3 },
]);

conformance('HTTPRouteMethodMatching', ['v1.2.1/tests/httproute-method-matching.yaml'], 'same-namespace', [
  { path: '/', method: 'POST', backend: v1 },
  { path: '/', method: 'GET', backend: v2 },
  { path: '/path1', method: 'GET', backend: v1 },
  { path: '/', method: 'PUT', headers: { version: 'one' }, backend: v2 },
  { path: '/path2', method: 'POST', headers: { version: 'two' }, backend: v3 },
  { path: '/path3', method: 'PATCH', backend: v1 },
  { path: '/path4', method: 'DELETE', headers: { version: 'three' }, backend: v1 },
  { path: '/path5', method: 'POST', backend: v1 },
  { path: '/', method: 'PATCH', backend: v2 },
  { path: '/', method: 'GET', headers: { version: 'four' }, backend: v2 },
  { path: '/', method: 'PUT', headers: { version: 'four' }, backend: v3 },
  { path: '/', method: 'HEAD', status: 404 },
  { path: '/path4', method: 'DELETE', status: 404 },
]);

conformance('HTTPRouteMatchingAcrossRoutes', ['v1.2.1/tests/httproute-matching-across-routes.yaml'], 'same-namespace', [
  { host: 'example.com', path: '/', backend: v1 },
  { host: 'example.com', path: '/example', backend: v1 },
  { host: 'example.net', path: '/example', backend: v1 },
  { host: 'example.com', path: '/', headers: { version: 'one' }, backend: v1 },
  { host: 'example.com', path: '/v2', backend: v2 },
  { host: 'example.com', path: '/v2/example', backend: v2 },
  { host: 'example.com', path: '/', headers: { version: 'two' }, backend: v2 },
  { host: 'example.net', path: '/v2', backend: v1 },
  { host: 'example.net', path: '/', headers: { version: 'two' }, backend: v1 },
  { host: 'example.org', path: '/', status: 404 },
]);

conformance('HTTPRouteHostnameIntersection', ['v1.2.1/tests/httproute-hostname-intersection.yaml'], 'httproute-hostname-intersection', [
  { host: 'very.specific.com', path: '/s1', backend: v1 },
  { host: 'non.matching.com', path: '/s1', status: 404 },
  { host: 'foo.nonmatchingwildcard.io', path: '/s1', status: 404 },
  { host: 'very.specific.com', path: '/non-matching-prefix', status: 404 },
  { host: 'foo.wildcard.io', path: '/s2', backend: v2 },
  { host: 'bar.wildcard.io', path: '/s2', backend: v2 },
  { host: 'foo.bar.wildcard.io', path: '/s2', backend: v2 },
  { host: 'wildcard.io', path: '/s2', status: 404 },
  { host: 'non.matching.com', path: '/s2', status: 404 },
  { host: 'very.specific.com', path: '/s3', backend: v3 },
  { host: 'foo.specific.com', path: '/s3', status: 404 },
  { host: 'foo.anotherwildcard.io', path: '/s4', backend: v1 },
  { host: 'bar.anotherwildcard.io', path: '/s4', backend: v1 },
  { host: 'foo.bar.anotherwildcard.io', path: '/s4', backend: v1 },
  { host: 'anotherwildcard.io', path: '/s4', status: 404 },
  { host: 'specific.but.wrong.com', path: '/s5', status: 404 },
  { host: 'wildcard.io', path: '/s5', status: 404 },
  { gateway: 'httproute-hostname-intersection-all', host: 'first.com', path: '/', backend: v2 },
  { gateway: 'httproute-hostname-intersection-all', host: 'sub.second.com', path: '/', backend: v2 },
  { gateway: 'httproute-hostname-intersection-all', host: 'third.com', path: '/', status: 404 },
]);

conformance('HTTPRouteListenerHostnameMatching', ['v1.2.1/tests/httproute-listener-hostname-matching.yaml'], 'httproute-listener-hostname-matching', [
  { host: 'bar.com', path: '/', backend: v1 },
  { host: 'foo.bar.com', path: '/', backend: v2 },
  { host: 'baz.bar.com', path: '/', backend: v3 },
  { host: 'boo.bar.com', path: '/', backend: v3 },
  { host: 'multiple.prefixes.bar.com', path: '/', backend: v3 },
  { host: 'multiple.prefixes.foo.com', path: '/', backend: v3 },
  { host: 'foo.com', path: '/', status: 404 },
  { host: 'no.matching.host', path: '/', status: 404 },
]);

describe('HTTPRouteHostnameIntersection status', () => {
  it('sets Accepted=False NoMatchingListenerHostname on the route whose hostnames meet no listener', async () => {
    const c = await setup(['v1.2.1/tests/httproute-hostname-intersection.yaml']);
    try {
      const parent = c.config.status.routes.get('gateway-conformance-infra/no-intersecting-hosts')!.parents[0]!;
      const accepted = parent.conditions.find((x) => x.type === 'Accepted')!;
      assert.equal(accepted.status, 'False');
      assert.equal(accepted.reason, 'NoMatchingListenerHostname');
    } finally {
      await c.close();
    }
  });
});
