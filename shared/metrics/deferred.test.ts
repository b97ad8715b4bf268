import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createDeferredMetrics } from './deferred.js';

describe('createDeferredMetrics', () => {
  it('keeps observations made before prom-client loads and exposes them on the first scrape', async () => {
    const metrics = createDeferredMetrics({ defaults: false, loadAfterMs: 60_000 });
    metrics.httpDuration.observe({ fn: 'f', method: 'GET', route: '/x', status: '200' }, 0.003);
    metrics.httpDuration.observe({ fn: 'f', method: 'GET', route: '/x', status: '200' }, 0.2);
    const text = await metrics.registry.metrics();
    assert.match(text, /zeno_http_request_duration_seconds_count\{fn="f",method="GET",route="\/x",status="200"\} 2/);
    assert.match(text, /zeno_http_request_duration_seconds_bucket\{le="0.005",fn="f",method="GET",route="\/x",status="200"\} 1/);
    metrics.httpDuration.observe({ fn: 'f', method: 'GET', route: '/x', status: '200' }, 0.01);
    assert.match(await metrics.registry.metrics(), /_count\{fn="f",method="GET",route="\/x",status="200"\} 3/);
  });

  it('loads by itself once the buffer is full, losing nothing', async () => {
    const metrics = createDeferredMetrics({ defaults: false, loadAfterMs: 60_000, maxBuffered: 5 });
    for (let i = 0; i < 7; i++) metrics.httpDuration.observe({ fn: 'f', method: 'POST', route: '/y', status: '201' }, 0.001);
    assert.match(await metrics.registry.metrics(), /_count\{fn="f",method="POST",route="\/y",status="201"\} 7/);
  });

  it('hands any other histogram method to the real histogram', async () => {
    const metrics = createDeferredMetrics({ defaults: false, loadAfterMs: 60_000 });
    const end = metrics.httpDuration.startTimer({ fn: 'f', method: 'GET', route: '/t', status: '200' });
    end();
    assert.match(await metrics.registry.metrics(), /_count\{fn="f",method="GET",route="\/t",status="200"\} 1/);
  });

  it('serves the registry content type expected by Prometheus', () => {
    const metrics = createDeferredMetrics({ defaults: false, loadAfterMs: 60_000 });
    assert.match(metrics.registry.contentType, /^text\/plain; version=0\.0\.4/);
  });
});
