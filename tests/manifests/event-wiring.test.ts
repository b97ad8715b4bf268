// The project's event wiring, over the event catalog, the function declarations and the manifests
// generated from them: no consumed event without a producer and a Trigger, no emitted type outside
// the catalog, no Trigger without retries and a dead-letter sink, no SinkBinding on a function
// that emits nothing.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { catalog } from '#eventing/catalog';
import { defaultOptions, eventWiringProblems, generateManifests, type Manifest } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import { PING_SOURCE_TYPE } from '#shared/events/schedule';
import { defineFunction, type FunctionDeclaration, type FunctionModule } from '#shared/function/define';
import { discoverFunctions, functionsDir } from '#shared/function/discover';

const catalogTypes = new Set(catalog.types.map((t) => t.type));
const opts = defaultOptions('0.0.0-test');

const load = async (): Promise<FunctionModule> => {
  throw new Error('never loaded');
};

describe('event wiring (catalog, declarations, generated manifests)', () => {
  let decls: FunctionDeclaration[];
  let docs: any[];
  const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);

  before(async () => {
    decls = await discoverFunctions(functionsDir(projectRoot()));
    docs = [...generateManifests(decls, opts).objects.values()].flat() as Manifest[] as any[];
  });

  it('finds every emitted type in the catalog and a producer for every consumed type', () => {
    assert.deepEqual(eventWiringProblems(decls, catalogTypes), []);
  });

  it('gives every consumed type a Trigger that its producer\'s events match', () => {
    const triggers = ofKind('Trigger');
    for (const d of decls) {
      for (const sub of d.subscribes ?? []) {
        const mine = triggers.filter((t) => t.spec.subscriber.ref.name === d.name && (t.spec.filter.attributes.type === sub.type || t.spec.filter.attributes.zenotype === sub.type));
        assert.equal(mine.length, 1, `${d.name} ${sub.type}`);
        const attributes = mine[0].spec.filter.attributes as Record<string, string>;
        const schedule = (d.schedules ?? []).find((s) => s.type === sub.type);
        if (schedule) {
          // The PingSource sends into the Broker what this Trigger lets through.
          const [ping] = ofKind('PingSource').filter((p) => p.spec.ceOverrides.extensions.zenoschedule === schedule.name);
          assert.equal(ping.spec.sink.ref.kind, 'Broker', schedule.name);
          assert.deepEqual(attributes, { type: PING_SOURCE_TYPE, zenotype: ping.spec.ceOverrides.extensions.zenotype, ...sub.filters });
        } else {
          assert.equal(attributes.type, sub.type);
          assert.ok(decls.some((p) => p.emits?.includes(sub.type)), `${sub.type} has an emitter`);
        }
      }
    }
  });

  it('gives every Trigger and the Broker retries with backoff and the dead-letter function as sink', () => {
    const deadLetters = ofKind('Service').find((s) => s.metadata.name === opts.deadLetterService);
    assert.ok(deadLetters, `a Knative Service ${opts.deadLetterService} is generated`);
    const triggers = ofKind('Trigger');
    assert.ok(triggers.length > 0);
    for (const t of [...triggers, ...ofKind('Broker')]) {
      const d = t.spec.delivery;
      assert.ok(Number.isInteger(d.retry) && d.retry >= 1, `${t.metadata.name}: retry`);
      assert.match(d.backoffPolicy, /^(exponential|linear)$/, `${t.metadata.name}: backoffPolicy`);
      assert.match(d.backoffDelay, /^PT/, `${t.metadata.name}: backoffDelay`);
      assert.deepEqual(d.deadLetterSink, { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: opts.deadLetterService }, uri: '/_events' }, t.metadata.name);
    }
  });

  it('binds exactly the functions that emit to the Broker', () => {
    const bound = ofKind('SinkBinding').map((s) => s.spec.subject.name).sort();
    assert.deepEqual(bound, decls.filter((d) => d.emits?.length).map((d) => d.name).sort());
    assert.ok(!bound.includes('vault-api') && !bound.includes('vault-unsealer'), 'the vault emits nothing');
  });

  it('reports a consumed type nobody produces and an emitted type outside the catalog', () => {
    const orphan = defineFunction({
      name: 'mail-digest',
      product: 'mail',
      description: 'test',
      routes: [],
      scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 },
      subscribes: [{ type: 'io.zenokube.auth.user.created' }, { type: 'io.zenokube.auth.cleanup.scheduled' }],
      emits: ['io.zenokube.mail.digest.sent'],
      load,
    });
    assert.deepEqual(eventWiringProblems([orphan], catalogTypes), [
      'mail-digest: emits io.zenokube.mail.digest.sent, which is not in the event catalog',
      'mail-digest: subscribes to io.zenokube.auth.user.created, which no function emits and no schedule of its own fires',
      'mail-digest: subscribes to io.zenokube.auth.cleanup.scheduled, which no function emits and no schedule of its own fires',
    ]);
    // A replay-only emitter ('*') produces nothing in particular.
    const replayer = defineFunction({ ...orphan, name: 'mail-replay', subscribes: [], emits: ['*'] });
    assert.deepEqual(eventWiringProblems([orphan, replayer], catalogTypes).length, 3);
  });

  it('refuses a declaration that emits a malformed type', () => {
    assert.throws(
      () => defineFunction({ name: 'mail-x', product: 'mail', description: 't', routes: [], scaling: { minScale: 0, maxScale: 1, containerConcurrency: 0, timeoutSeconds: 30 }, emits: ['mail.sent'], load }),
      /emitted type "mail.sent"/,
    );
  });
});
