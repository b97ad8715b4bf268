// The layering rules (.dependency-cruiser.cjs): the project keeps them, and each of them, run on a
// miniature project that breaks it, reports exactly the imports that break it.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';
import { depcruise, describeViolations, type Violation } from './depcruise.js';
import { EXPECTED, writeFixtureTree } from './fixture-tree.js';

const SOURCES = ['shared', 'functions', 'eventing', 'manifests', 'local-cluster', 'cli', 'tests', 'bench', 'scripts'];
const KNOWN = '.dependency-cruiser-known-violations.json';

const key = (v: Pick<Violation, 'rule' | 'from' | 'to'>) => `${v.rule}: ${v.from} → ${v.to}`;

describe('layering rules', () => {
  it('hold for the whole project (known violations aside)', async (t) => {
    const { errors, ignored } = await depcruise(projectRoot(), SOURCES, { ignoreKnown: KNOWN });
    assert.equal(errors.length, 0, `layering rules broken (see .dependency-cruiser.cjs):\n${describeViolations(errors)}`);
    // Each known violation belongs to code another change is rewriting; one no longer found should
    // leave the list (not a failure: that change may land before this list is edited).
    const known = JSON.parse(readFileSync(join(projectRoot(), KNOWN), 'utf8')) as { rule: { name: string }; from: string; to: string }[];
    const found = new Set(ignored.map(key));
    for (const k of known) {
      if (!found.has(key({ rule: k.rule.name, from: k.from, to: k.to }))) t.diagnostic(`no longer found, remove it from ${KNOWN}: ${k.from} → ${k.to}`);
    }
    if (ignored.length > 0) t.diagnostic(`known violations ignored:\n${describeViolations(ignored)}`);
  });

  describe('on a project that breaks each of them', () => {
    let dir: string;
    let reported: Violation[];
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'zk-layering-'));
      writeFixtureTree(dir);
      ({ errors: reported } = await depcruise(dir, ['shared', 'functions', 'eventing', 'manifests', 'local-cluster', 'cli', 'tests']));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('reports every violation and none of the allowed imports', () => {
      assert.deepEqual(reported.map(key).sort(), EXPECTED.map(([rule, from, to]) => key({ rule, from, to })).sort());
    });

    const rules = [...new Set(EXPECTED.map(([rule]) => rule))];
    it('covers every rule of the configuration', async () => {
      const config = (await import(join(projectRoot(), '.dependency-cruiser.cjs'))) as { default: { forbidden: { name: string }[] } };
      assert.deepEqual(config.default.forbidden.map((r) => r.name).sort(), [...rules].sort());
    });
    for (const rule of rules) {
      it(`fails ${rule}`, () => {
        assert.ok(reported.some((v) => v.rule === rule), `${rule} was not reported:\n${describeViolations(reported)}`);
      });
    }
  });
});
