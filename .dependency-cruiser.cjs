// The layering rules the build enforces (tests/layering/rules.test.ts runs them inside `npm test`;
// by hand: `npm run layering`). .dependency-cruiser-known-violations.json lists the one violation
// left to code another change is rewriting (a type-only cycle in functions/ingress/proxy/).
// Every path is relative to the project root. Test code is any tests/**, functions/<p>/testing/**,
// *.test.ts(x) or *.test-support.ts; production code is everything the image builds, minus test code.
// Each rule names what it protects; tests/layering/ shows each one failing on a deliberate violation.
'use strict';

const TEST_CODE = '(^tests/|^functions/[^/]+/testing/|\\.test\\.tsx?$|\\.test-support\\.ts$)';
const PRODUCTION = '^(shared|functions|eventing|manifests|local-cluster|cli)/';

/**
 * ZenoIngress's entries. index.ts is the library; the others are process entries it cannot carry:
 * heap.ts must run before the rest of the proxy loads, standalone.ts and proxy/observe.ts load
 * prom-client, in-cluster.ts and controller/controller.ts load @kubernetes/client-node (about 2 s),
 * which `npm start` and every test that imports the index would otherwise pay for. tunnel/run.ts
 * starts the tunnel's edge and agent processes (prom-client again).
 */
const INGRESS_ENTRIES = '^functions/ingress/(index|heap|standalone|in-cluster|controller/controller|proxy/observe|tunnel/run)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'shared-is-the-kit',
      comment: 'shared/ is the platform kit under everything: it imports no product, no eventing/, no cli/, no local cluster, no generator.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(functions|eventing|cli|local-cluster|manifests)/' },
    },
    {
      name: 'core-without-http',
      comment: "A product's core/ holds its schema, queries and rules: no HTTP framework or client (hono, @hono/*, undici, node:http), no shared/http other than the error base.",
      severity: 'error',
      from: { path: '^functions/[^/]+/core/' },
      to: { path: '(^node_modules/(hono|@hono/[^/]+|undici)/|^(node:)?(http|https|http2)$|^shared/http/(?!errors\\.ts$))' },
    },
    {
      name: 'products-apart',
      comment: 'One product never imports another: they talk through HTTP or events.',
      severity: 'error',
      from: { path: '^functions/([^/]+)/' },
      to: { path: '^functions/', pathNot: '^functions/$1/' },
    },
    {
      name: 'functions-off-the-runner',
      comment: 'Functions run the same in a pod and under `npm start`: they never import cli/ or the local cluster.',
      severity: 'error',
      from: { path: '^functions/', pathNot: TEST_CODE },
      to: { path: '^(cli|local-cluster)/' },
    },
    {
      name: 'tests-use-the-cli-arguments-only',
      comment: "Tests may call a command (cli/<command>.ts, its arguments), nothing below it.",
      severity: 'error',
      from: { path: TEST_CODE, pathNot: '^cli/' },
      to: { path: '^cli/[^/]+/' },
    },
    {
      name: 'local-cluster-through-its-index',
      comment: 'The local cluster is used through local-cluster/index.ts only.',
      severity: 'error',
      from: { pathNot: '^local-cluster/' },
      to: { path: '^local-cluster/', pathNot: '^local-cluster/index\\.ts$' },
    },
    {
      name: 'manifests-through-its-index',
      comment: 'The manifest generator is used through manifests/index.ts only.',
      severity: 'error',
      from: { pathNot: '^manifests/' },
      to: { path: '^manifests/', pathNot: '^manifests/index\\.ts$' },
    },
    {
      name: 'ingress-through-its-entries',
      comment: 'Outside functions/ingress, ZenoIngress is used through its entries (INGRESS_ENTRIES above).',
      severity: 'error',
      from: { pathNot: '^functions/ingress/' },
      to: { path: '^functions/ingress/', pathNot: INGRESS_ENTRIES },
    },
    {
      name: 'no-cycle',
      comment: 'No import cycle anywhere, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'production-without-dev-dependencies',
      comment: 'The image prunes devDependencies: production code must not import one.',
      severity: 'error',
      from: { path: PRODUCTION, pathNot: TEST_CODE },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'resolvable',
      comment: 'Every import resolves: a rule cannot be dodged by a path the checker does not follow.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Not node_modules: excluded modules vanish as dependencies too, and the rules must see packages.
    exclude: { path: '^(dist|knative)/' },
    // Type-only imports are dependencies too (a core that imports a Hono type is coupled to Hono).
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      // The package.json `imports` map (#shared/*, ...) resolves to sources under this condition.
      conditionNames: ['development', 'types', 'import', 'node', 'default'],
      extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
  },
};
