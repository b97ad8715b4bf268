import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createCircuitBreakers } from './circuit.js';
import { createObserver } from './observe.js';
import type { ExchangeRecord } from './context.js';

const rec = (status: number): ExchangeRecord => ({
  requestId: 'r1',
  method: 'GET',
  host: 'example.com',
  path: '/x',
  status,
  route: 'ns/r/0',
  backend: 'ns/svc:80',
  upstreamError: undefined,
  durationMs: 1.5,
  bytesOut: 0,
  client: '127.0.0.1',
  attempts: 1,
});

describe('ingress metrics and access log', () => {
  it('logs one JSON line per request at sampling 1 and only errors at sampling 0', () => {
    const all: string[] = [];
    const none: string[] = [];
    const o1 = createObserver({ registry: new Registry(), accessLog: (l) => all.push(l), sampleRate: 1 });
    const o0 = createObserver({ registry: new Registry(), accessLog: (l) => none.push(l), sampleRate: 0 });
    for (const s of [200, 404, 502]) {
      o1.exchange(rec(s));
      o0.exchange(rec(s));
    }
    assert.equal(all.length, 3);
    assert.deepEqual(none.map((l) => JSON.parse(l).status), [502]);
    const line = JSON.parse(all[0]!);
    assert.equal(line.route, 'ns/r/0');
    assert.equal(line.backend, 'ns/svc:80');
    assert.equal(line.requestId, 'r1');
  });

  it('samples the configured share', () => {
    const lines: string[] = [];
    let i = 0;
    const o = createObserver({ registry: new Registry(), accessLog: (l) => lines.push(l), sampleRate: 0.25, random: () => (i++ % 4) / 4 });
    for (let k = 0; k < 40; k++) o.exchange(rec(200));
    assert.equal(lines.length, 10);
  });

  it('counts requests per route, backend and code, upstream errors and circuit state', async () => {
    const registry = new Registry();
    const o = createObserver({ registry, accessLog: undefined, sampleRate: 1 });
    o.exchange(rec(200));
    o.exchange(rec(200));
    o.upstreamError('ns/svc:80', 'ECONNREFUSED');
    o.circuitChanged('127.0.0.1:80', 'open');
    const text = await registry.metrics();
    assert.match(text, /zeno_ingress_requests_total\{route="ns\/r\/0",backend="ns\/svc:80",code="200"\} 2/);
    assert.match(text, /zeno_ingress_upstream_errors_total\{backend="ns\/svc:80",error="ECONNREFUSED"\} 1/);
    assert.match(text, /zeno_ingress_circuit_state\{endpoint="127.0.0.1:80"\} 2/);
    assert.match(text, /zeno_ingress_request_duration_seconds_count\{route="ns\/r\/0",backend="ns\/svc:80"\} 2/);
  });

  it('reads circuit states from the breakers at scrape, so an open circuit nobody probes turns half-open', async () => {
    const registry = new Registry();
    let clock = 0;
    const breakers = createCircuitBreakers({ failureThreshold: 2, openMs: 10_000 }, () => clock);
    const o = createObserver({ registry, accessLog: undefined, sampleRate: 1, circuitState: (e) => breakers.state(e) });
    breakers.onChange = (key, state) => o.circuitChanged(key, state);
    breakers.failure('10.0.0.7:8080');
    breakers.failure('10.0.0.7:8080');
    assert.match(await registry.metrics(), /zeno_ingress_circuit_state\{endpoint="10.0.0.7:8080"\} 2/);
    // No request comes for the endpoint after its cool-down (its pod is gone): no state change fires.
    clock = 10_000;
    assert.match(await registry.metrics(), /zeno_ingress_circuit_state\{endpoint="10.0.0.7:8080"\} 1/);
  });
});
