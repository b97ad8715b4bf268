import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defineFunction } from '#shared/function/define';
import { silentLogger } from '#shared/log/index';
import { startPingSource } from './ping.js';

describe('startPingSource (local PingSource)', () => {
  it("sends the declared event into the broker, shaped as a PingSource's, when the cron minute starts", async () => {
    const decl = defineFunction({
      name: 'mail-sweep',
      product: 'mail',
      description: 'test',
      routes: [],
      scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 },
      subscribes: [{ type: 'io.zenokube.mail.queue.swept' }],
      schedules: [{ name: 'every-minute', schedule: '* * * * *', type: 'io.zenokube.mail.queue.swept', data: { batch: 10 } }],
      load: async () => ({ createApp: () => { throw new Error('unused'); } }),
    });
    // 40 ms before a minute boundary.
    const now = () => new Date(Math.ceil(Date.now() / 60_000) * 60_000 - 40);
    const sent: { attributes: Record<string, string>; data: string }[] = [];
    const fired = new Promise<void>((resolve) => {
      const ping = startPingSource({
        declarations: [decl],
        log: silentLogger,
        now,
        send: async (attributes, data) => {
          sent.push({ attributes, data: new TextDecoder().decode(data) });
          ping.stop();
          resolve();
        },
      });
    });
    // The source's timers are unref'd (they never hold a process open): keep this test alive.
    const keepAlive = setTimeout(() => {}, 5_000);
    await fired;
    clearTimeout(keepAlive);
    assert.equal(sent.length, 1);
    const [ev] = sent;
    assert.equal(ev!.attributes.type, 'dev.knative.sources.ping');
    assert.equal(ev!.attributes.zenotype, 'io.zenokube.mail.queue.swept');
    assert.equal(ev!.attributes.zenoschedule, 'every-minute');
    assert.equal(ev!.attributes.source, '/apis/v1/namespaces/default/pingsources/mail-sweep-every-minute');
    assert.equal(ev!.attributes.specversion, '1.0');
    assert.match(ev!.attributes.time!, /:00\.000Z$/);
    assert.deepEqual(JSON.parse(ev!.data), { batch: 10 });
  });
});
