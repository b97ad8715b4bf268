// Test support: a miniature project with the real layout, written to a folder, that breaks each
// layering rule once, beside imports the rules allow (which must not be reported).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const imports = (area: string) => ({ development: `./${area}/*.ts`, default: `./dist/${area}/*.js` });

const FILES: Record<string, string> = {
  'package.json': JSON.stringify({
    name: 'layering-fixture',
    private: true,
    type: 'module',
    imports: Object.fromEntries(
      ['shared', 'eventing', 'functions', 'manifests', 'local-cluster', 'cli', 'tests'].map((a) => [`#${a}/*`, imports(a)]),
    ),
    dependencies: { hono: '*', undici: '*' },
    devDependencies: { 'dev-only': '*' },
  }),
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', customConditions: ['development'], noEmit: true },
  }),
  'node_modules/hono/package.json': JSON.stringify({ name: 'hono', type: 'module', exports: { '.': './index.js' } }),
  'node_modules/hono/index.js': 'export class Hono {}\n',
  'node_modules/undici/package.json': JSON.stringify({ name: 'undici', main: 'index.js' }),
  'node_modules/undici/index.js': 'exports.fetch = () => {};\n',
  'node_modules/dev-only/package.json': JSON.stringify({ name: 'dev-only', main: 'index.js' }),
  'node_modules/dev-only/index.js': 'exports.x = 1;\n',

  // shared-is-the-kit
  'shared/http/errors.ts': 'export class AppError extends Error {}\n',
  'shared/http/app.ts': "import { Hono } from 'hono';\nexport const app = new Hono();\n",
  'shared/kit.ts': "import { catalog } from '#eventing/catalog';\nexport const kit = catalog;\n",
  'eventing/catalog.ts': 'export const catalog = [];\n',

  // core-without-http: three violations, and the error base, which is allowed
  'functions/alpha/core/rules.ts': [
    "import { Hono } from 'hono';",
    "import { request } from 'node:http';",
    "import { app } from '#shared/http/app';",
    "import { AppError } from '#shared/http/errors';",
    'export const rules = [Hono, request, app, AppError];',
    '',
  ].join('\n'),
  'functions/alpha/core/fetcher.ts': "import { fetch } from 'undici';\nexport const get = fetch;\n",
  // products-apart (an import of its own core is allowed)
  'functions/alpha/api/app.ts': "import { rules } from '#functions/alpha/core/rules';\nimport { model } from '#functions/beta/core/model';\nexport const app = [rules, model];\n",
  'functions/beta/core/model.ts': 'export const model = {};\n',
  // functions-off-the-runner (a product's testing harness may use the local cluster's index)
  'functions/beta/api/app.ts': "import { startStack } from '#local-cluster/index';\nexport const app = startStack;\n",
  'functions/beta/testing/harness.ts': "import { startStack } from '#local-cluster/index';\nimport { x } from 'dev-only';\nexport const harness = [startStack, x];\n",

  'local-cluster/index.ts': "export { startStack } from './stack.js';\n",
  // ingress-through-its-entries (the index and a process entry are allowed)
  'local-cluster/stack.ts': [
    "import { compile } from '#functions/ingress/engine/compile';",
    "import { createIngress } from '#functions/ingress/index';",
    "import { limitProxyHeap } from '#functions/ingress/heap';",
    'export const startStack = [compile, createIngress, limitProxyHeap];',
    '',
  ].join('\n'),
  'functions/ingress/index.ts': "export { compile } from './engine/compile.js';\nexport const createIngress = 1;\n",
  'functions/ingress/engine/compile.ts': 'export const compile = 1;\n',
  'functions/ingress/heap.ts': 'export const limitProxyHeap = 1;\n',

  // manifests-through-its-index; production-without-dev-dependencies
  'manifests/index.ts': "export { generate } from './generate.js';\n",
  'manifests/generate.ts': "import { x } from 'dev-only';\nexport const generate = x;\n",
  'cli/command.ts': "import { generate } from '#manifests/generate';\nimport { helper } from './sub/helper.js';\nexport const main = [generate, helper];\n",
  'cli/sub/helper.ts': 'export const helper = 1;\n',

  // tests-use-the-cli-arguments-only; local-cluster-through-its-index (dev-only is fine in tests)
  'tests/e2e/stack.test.ts': [
    "import { main } from '#cli/command';",
    "import { helper } from '#cli/sub/helper';",
    "import { startStack } from '#local-cluster/stack';",
    "import { x } from 'dev-only';",
    'export const t = [main, helper, startStack, x];',
    '',
  ].join('\n'),

  // no-cycle; resolvable
  'eventing/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
  'eventing/b.ts': "import { a } from './a.js';\nimport { gone } from './missing.js';\nexport const b = () => [a, gone];\n",
};

/** The violations the tree holds: rule, from, to (a cycle once, at its first module). Nothing else may be reported. */
export const EXPECTED: readonly (readonly [rule: string, from: string, to: string])[] = [
  ['shared-is-the-kit', 'shared/kit.ts', 'eventing/catalog.ts'],
  ['core-without-http', 'functions/alpha/core/rules.ts', 'node_modules/hono/index.js'],
  // Node's own modules are named without their `node:` prefix.
  ['core-without-http', 'functions/alpha/core/rules.ts', 'http'],
  ['core-without-http', 'functions/alpha/core/rules.ts', 'shared/http/app.ts'],
  ['core-without-http', 'functions/alpha/core/fetcher.ts', 'node_modules/undici/index.js'],
  ['products-apart', 'functions/alpha/api/app.ts', 'functions/beta/core/model.ts'],
  ['functions-off-the-runner', 'functions/beta/api/app.ts', 'local-cluster/index.ts'],
  ['ingress-through-its-entries', 'local-cluster/stack.ts', 'functions/ingress/engine/compile.ts'],
  ['manifests-through-its-index', 'cli/command.ts', 'manifests/generate.ts'],
  ['production-without-dev-dependencies', 'manifests/generate.ts', 'node_modules/dev-only/index.js'],
  ['tests-use-the-cli-arguments-only', 'tests/e2e/stack.test.ts', 'cli/sub/helper.ts'],
  ['local-cluster-through-its-index', 'tests/e2e/stack.test.ts', 'local-cluster/stack.ts'],
  ['no-cycle', 'eventing/a.ts', 'eventing/b.ts'],
  ['resolvable', 'eventing/b.ts', './missing.js'],
];

/** Writes the tree into `dir`. */
export function writeFixtureTree(dir: string): void {
  for (const [path, text] of Object.entries(FILES)) {
    const file = join(dir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
}
