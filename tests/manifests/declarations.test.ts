// Broken declarations fail generation with a clear message naming the function and the problem.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDeclarations, cronProblems, defaultOptions, generateManifests, ManifestError } from '#manifests/index';
import { projectRoot } from '#shared/db/root';
import { defineFunction, type FunctionDeclaration } from '#shared/function/define';
import { pushFunction, tokenFunction } from './sample-declarations.js';
import { nodeArgs } from '#tests/support/node-args';

/** A declaration as a hand-written object would be, bypassing defineFunction's own checks. */
const broken = (patch: Partial<FunctionDeclaration>): FunctionDeclaration => ({ ...pushFunction, ...patch });

function problemsOf(decls: FunctionDeclaration[]): string[] {
  try {
    generateManifests(decls, defaultOptions('1.0.0'));
  } catch (err) {
    assert.ok(err instanceof ManifestError, String(err));
    assert.equal(err.code, 'invalid_declaration');
    return [...err.problems];
  }
  assert.fail('generation should have failed');
}

describe('declaration checks', () => {
  it('rejects a name that is not a DNS label or does not start with the product', () => {
    assert.deepEqual(problemsOf([broken({ name: 'Auth_Push' })]), [
      'Auth_Push: name "Auth_Push" is not a DNS label (lower-case, digits, dashes, at most 63)',
      'Auth_Push: name must start with the product, "auth-"',
    ]);
    assert.match(problemsOf([broken({ name: `auth-${'x'.repeat(60)}` })])[0]!, /is not a DNS label/);
    assert.throws(() => defineFunction({ ...pushFunction, name: 'vault-push' }), /name must start with "auth-"/);
  });

  it('rejects a cron expression with a wrong field count or an out-of-range value', () => {
    const sch = (schedule: string) => broken({ schedules: [{ name: 'tick', schedule, type: 'io.zenokube.auth.scim.sweep-due' }] });
    assert.deepEqual(problemsOf([sch('* * * *')]), ['auth-scim-push: schedule "tick": "* * * *" has 4 fields, not 5']);
    assert.deepEqual(problemsOf([sch('61 * * * *')]), ['auth-scim-push: schedule "tick": minute "61" is outside 0-59']);
    assert.deepEqual(problemsOf([sch('0 0 * 13 *')]), ['auth-scim-push: schedule "tick": month "13" is outside 1-12']);
    assert.deepEqual(problemsOf([sch('*/0 * * * *')]), ['auth-scim-push: schedule "tick": step "0" in minute is not a positive number']);
    assert.throws(() => defineFunction({ ...pushFunction, schedules: [{ name: 'tick', schedule: '* * *', type: 'io.zenokube.auth.scim.sweep-due' }] }), /not a 5-field cron/);
  });

  it('rejects a schedule whose event type the function does not subscribe to', () => {
    assert.deepEqual(problemsOf([broken({ schedules: [{ name: 'tick', schedule: '0 * * * *', type: 'io.zenokube.auth.never.subscribed' }] })]), [
      'auth-scim-push: schedule "tick" fires io.zenokube.auth.never.subscribed, which the function does not subscribe to',
    ]);
  });

  it('rejects subscriptions with a malformed type, filter, retry or backoff', () => {
    const problems = problemsOf([
      broken({
        schedules: [],
        subscribes: [
          { type: 'auth.user.created' },
          { type: 'io.zenokube.auth.user.created', filters: { Source: '/x', type: 'y' }, retry: -1, backoffDelay: '200ms' },
        ],
      }),
    ]);
    assert.deepEqual(problems, [
      'auth-scim-push: event type "auth.user.created" is not io.zenokube.<product>.<noun>.<verb>',
      'auth-scim-push: subscription io.zenokube.auth.user.created: filter "Source" is not a CloudEvents attribute name',
      'auth-scim-push: subscription io.zenokube.auth.user.created: filter on type is implied, do not repeat it',
      'auth-scim-push: subscription io.zenokube.auth.user.created: retry must be a non-negative integer',
      'auth-scim-push: subscription io.zenokube.auth.user.created: backoffDelay "200ms" is not an ISO 8601 duration',
    ]);
  });

  it('rejects scaling Knative would refuse', () => {
    const problems = problemsOf([broken({ scaling: { minScale: 3, maxScale: 2, containerConcurrency: 5000, target: 0, timeoutSeconds: 3600 } })]);
    assert.deepEqual(problems, [
      'auth-scim-push: scaling: need integers 0 <= minScale <= maxScale, maxScale >= 1',
      'auth-scim-push: scaling: containerConcurrency must be an integer 0..1000',
      'auth-scim-push: scaling: target must be positive',
      'auth-scim-push: scaling: timeoutSeconds must be an integer 1..600',
    ]);
    assert.deepEqual(problemsOf([broken({ longRunning: true, subscribes: [], schedules: [] })]), ['auth-scim-push: scaling: a long-running function needs minScale >= 1']);
  });

  it('rejects paths the Gateway API refuses and unknown methods', () => {
    const problems = problemsOf([
      broken({
        routes: [
          { path: 'auth/x' },
          { path: '/auth//x', match: 'Exact' },
          { path: '/auth/%2Fx' },
          { path: '/auth/(', match: 'RegularExpression' },
          { path: '/auth/y', methods: ['FETCH'] },
        ],
      }),
    ]);
    assert.deepEqual(problems, [
      'auth-scim-push: route "auth/x" must be an absolute path',
      'auth-scim-push: route "/auth//x" is not a normalised path',
      'auth-scim-push: route "/auth/%2Fx" is not a normalised path',
      'auth-scim-push: route "/auth/(" is not a valid regular expression',
      'auth-scim-push: route "/auth/y": unknown method FETCH',
    ]);
  });

  it('rejects env variables that are reserved, misnamed, or secrets with a literal value', () => {
    const problems = problemsOf([
      broken({
        env: {
          DATABASE_URL: { description: 'x', value: 'postgres://' },
          'BAD-NAME': { description: 'x', value: '1' },
          LEAKY: { description: 'x', value: 'hunter2', secret: { name: 'Not_A_Name', key: 'bad key' } },
        },
      }),
    ]);
    assert.deepEqual(problems, [
      'auth-scim-push: env DATABASE_URL: reserved, set by the platform',
      'auth-scim-push: env BAD-NAME: not a valid variable name',
      'auth-scim-push: env LEAKY: a secret has no literal value',
      'auth-scim-push: env LEAKY: secret name "Not_A_Name" is not a DNS subdomain',
      'auth-scim-push: env LEAKY: secret key "bad key" is not a valid key',
    ]);
  });

  it('reports every problem of every function at once, and clashes between functions', () => {
    const twin = { ...tokenFunction, name: 'auth-token-twin' };
    const problems = problemsOf([broken({ name: 'Bad' }), tokenFunction, tokenFunction, twin]);
    assert.ok(problems.some((p) => p.startsWith('Bad: name "Bad"')));
    assert.ok(problems.includes('auth-token: declared twice'));
    assert.ok(problems.includes('auth-token-twin: route RegularExpression /auth/[^/]+/token POST is already declared by auth-token'));
  });

  it('accepts the valid declarations', () => {
    assert.doesNotThrow(() => checkDeclarations([tokenFunction, pushFunction]));
  });
});

describe('cronProblems', () => {
  it('accepts lists, ranges, steps and names', () => {
    for (const ok of ['* * * * *', '*/15 0-6,18-23 1,15 JAN-MAR mon-fri', '0 0 1 * *', '5 4 * * 7', '0 12 ? * SUN']) {
      assert.deepEqual(cronProblems(ok), [], ok);
    }
  });

  it('rejects backwards ranges, double steps and junk', () => {
    assert.deepEqual(cronProblems('30-10 * * * *'), ['minute range "30-10" runs backwards']);
    assert.deepEqual(cronProblems('*/5/2 * * * *'), ['"*/5/2" is not a minute term']);
    assert.deepEqual(cronProblems('0 0 0 * *'), ['day of month "0" is outside 1-31']);
    assert.deepEqual(cronProblems('@hourly'), ['"@hourly" has 1 fields, not 5']);
  });
});

describe('zenokube manifests --check', () => {
  it('exits non-zero and lists the stale files, then passes once written', () => {
    const root = projectRoot();
    const out = mkdtempSync(join(tmpdir(), 'zk-manifests-'));
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [...nodeArgs('cli/zenokube.ts'), 'manifests', '--out', out, ...args], { cwd: root, encoding: 'utf8' });
    try {
      writeFileSync(join(out, 'leftover.yaml'), 'kind: ConfigMap\n');
      const stale = run('--check');
      assert.equal(stale.status, 1, stale.stderr);
      assert.match(stale.stderr, /knative\/ is stale/);
      assert.match(stale.stderr, /missing {2}kustomization\.yaml/);
      assert.match(stale.stderr, /extra {4}leftover\.yaml/);
      const write = run();
      assert.equal(write.status, 0, write.stderr);
      assert.match(write.stdout, /removed {2}leftover\.yaml/);
      assert.equal(run('--check').status, 0);
      writeFileSync(join(out, 'kustomization.yaml'), readFileSync(join(out, 'kustomization.yaml'), 'utf8') + '# edited\n');
      const edited = run('--check');
      assert.equal(edited.status, 1);
      assert.match(edited.stderr, /changed {2}kustomization\.yaml/);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
