// knative/observability/: every dashboard loads as Grafana reads it, every alert has what an
// on-call engineer needs, every query parses as PromQL, and every metric it names is one the code
// registers. The registries are the real ones: each declared function is served as its pod serves
// it (on a test database), and the ingress is started on an empty directory.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { defaultOptions, generateManifests, packageVersion, readCrds, type Manifest } from '#manifests/index';
import { loadConfig } from '#shared/config/index';
import { projectRoot } from '#shared/db/root';
import { discoverFunctions, functionsDir } from '#shared/function/discover';
import type { FunctionDeclaration } from '#shared/function/define';
import { serveFunction } from '#shared/function/serve';
import { createLogger } from '#shared/log/index';
import { createDeferredMetrics } from '#shared/metrics/deferred';
import { startStandalone } from '#functions/ingress/standalone';
import { createTestDatabase, type TestDatabase } from '#tests/support/database';
import { dashboardProblems, substituteVariables } from './grafana-dashboard.js';
import { parsePromQL } from './promql.js';
import { sampleDeclarations } from './sample-declarations.js';

const root = projectRoot();

/** Metrics other systems export, which our queries may read. */
const EXTERNAL: Record<string, string> = {
  kube_pod_container_status_restarts_total: 'kube-state-metrics',
};

/**
 * Metrics agreed with parts of the platform built alongside this one, not yet in the code: the
 * dead-letter function's. An entry is accepted only while no registry has the name; once the code
 * registers it, this test fails until the entry is removed.
 */
const PROVIDED_ELSEWHERE: string[] = [];

/**
 * The names a registry's metrics appear under in the exposition (a histogram is three series).
 * prom-client's JSON has `type` as the exposition's string ('histogram'), whatever its typings say.
 */
function exposedNames(metrics: { name: string; type: unknown }[]): string[] {
  return metrics.flatMap((m) => {
    const type = String(m.type);
    if (type === 'histogram') return [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`];
    if (type === 'summary') return [m.name, `${m.name}_sum`, `${m.name}_count`];
    return [m.name];
  });
}

/** Serves every declared function and starts the ingress; returns metric name → who registers it. */
async function registeredMetrics(decls: readonly FunctionDeclaration[], database: TestDatabase, dataDir: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const log = createLogger({ level: 'error' });
  for (const decl of decls) {
    const platform = {
      config: loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_URL: database.url, ZENO_DATA_DIR: dataDir, ZENO_LOG_LEVEL: 'error' }),
      log,
      metrics: createDeferredMetrics(),
      database: database.database,
    };
    const served = await serveFunction(decl, platform, { catalog: async () => (await import('#eventing/catalog')).catalog });
    try {
      for (const name of exposedNames(await platform.metrics.registry.getMetricsAsJSON())) if (!found.has(name)) found.set(name, decl.name);
    } finally {
      await served.stop();
    }
  }
  const ingress = await startStandalone({ dir: mkdtempSync(join(dataDir, 'gateways-')), portOffset: 0, log, admin: undefined, accessLogSample: 0, accessLog: () => {}, watch: false });
  try {
    for (const name of exposedNames(await ingress.registry.getMetricsAsJSON())) if (!found.has(name)) found.set(name, 'ingress');
  } finally {
    await ingress.close();
  }
  return found;
}

interface Query {
  where: string;
  expr: string;
}

/** Every PromQL expression in the observability objects, and the metrics of dashboard variables. */
function queriesOf(objects: Map<string, Manifest[]>): { queries: Query[]; variableMetrics: Query[] } {
  const queries: Query[] = [];
  const variableMetrics: Query[] = [];
  for (const [file, docs] of objects) {
    if (!file.startsWith('observability/')) continue;
    for (const doc of docs) {
      if (doc.kind === 'PrometheusRule') {
        for (const g of (doc.spec as any).groups) for (const r of g.rules) queries.push({ where: `${file} ${r.alert}`, expr: r.expr });
      }
      if (doc.kind === 'ConfigMap') {
        for (const [key, text] of Object.entries(doc.data as Record<string, string>)) {
          const d = JSON.parse(text);
          for (const p of d.panels) for (const t of p.targets ?? []) queries.push({ where: `${file} ${key} "${p.title}" ${t.refId}`, expr: substituteVariables(t.expr) });
          for (const v of d.templating.list) {
            const m = typeof v.query === 'object' && /^label_values\((\w+),\s*\w+\)$/.exec(v.query.query);
            if (v.type === 'query') variableMetrics.push({ where: `${file} $${v.name}`, expr: m ? m[1]! : `unreadable: ${JSON.stringify(v.query)}` });
          }
        }
      }
    }
  }
  return { queries, variableMetrics };
}

describe('knative/observability (dashboards, alerts, scrape targets)', () => {
  let tdb: TestDatabase;
  let dataDir: string;
  let decls: FunctionDeclaration[];
  let objects: Map<string, Manifest[]>;
  before(async () => {
    tdb = await createTestDatabase({ max: 4 });
    dataDir = mkdtempSync(join(tmpdir(), 'zk-observability-'));
    decls = await discoverFunctions(functionsDir(root));
    objects = generateManifests(decls, defaultOptions(packageVersion(root)), readCrds(root)).objects;
  });
  after(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await tdb?.drop();
  });

  it('ships a dashboard for the platform, each product, the ingress and eventing, each as Grafana loads it', () => {
    const dashboards = [...objects].filter(([f]) => f.startsWith('observability/dashboards/'));
    assert.deepEqual(dashboards.map(([f]) => f).sort(), ['auth', 'eventing', 'ingress', 'lms', 'mail', 'platform', 'scope', 'vault'].map((n) => `observability/dashboards/${n}.yaml`));
    const uids = new Set<string>();
    for (const [file, [cm]] of dashboards) {
      assert.equal((cm!.metadata as any).labels.grafana_dashboard, '1', file);
      const entries = Object.entries(cm!.data as Record<string, string>);
      assert.equal(entries.length, 1, file);
      const json = JSON.parse(entries[0]![1]);
      assert.deepEqual(dashboardProblems(json), [], file);
      assert.ok(!uids.has(json.uid), `uid ${json.uid} twice`);
      uids.add(json.uid);
      assert.ok(Buffer.byteLength(entries[0]![1]) < 256 * 1024, `${file}: under the annotation-free ConfigMap apply limit`);
    }
  });

  it('gives every alert a severity, a summary, a description and a runbook that exists in docs/operations.md', () => {
    const [rule] = objects.get('observability/alerts.yaml')!;
    const runbook = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
    const headings = new Set([...runbook.matchAll(/^### (\S+)$/gm)].map((m) => m[1]!.toLowerCase()));
    const alerts = (rule!.spec as any).groups.flatMap((g: any) => g.rules);
    assert.deepEqual(
      alerts.map((a: any) => a.alert).sort(),
      ['ZenoCertificateExpiring', 'ZenoCertificateExpiringSoon', 'ZenoDeadLettersGrowing', 'ZenoIngressCircuitOpen', 'ZenoLoginFailureSpike', 'ZenoOutboxLag', 'ZenoOutboxStalled', 'ZenoVaultReplicaSealed', 'ZenoVaultSealed'],
    );
    for (const a of alerts) {
      assert.ok(['critical', 'warning'].includes(a.labels.severity), `${a.alert} severity`);
      assert.ok(a.annotations.summary && a.annotations.description, `${a.alert} summary and description`);
      assert.match(a.for, /^\d+[smh]$/, `${a.alert} for`);
      const [path, anchor] = a.annotations.runbook_url.split('#');
      assert.equal(path, 'docs/operations.md', a.alert);
      assert.ok(headings.has(anchor), `${a.alert}: no runbook heading "### ${a.alert}" in docs/operations.md`);
    }
  });

  it('parses every alert expression and dashboard query with the Prometheus grammar', () => {
    const { queries } = queriesOf(objects);
    assert.ok(queries.length > 40, `${queries.length} queries`);
    const problems = queries.flatMap((q) => parsePromQL(q.expr).errors.map((e) => `${q.where}: ${e}`));
    assert.deepEqual(problems, []);
  });

  it('reads only metrics the code registers (or that kube-state-metrics exports)', async () => {
    const registered = await registeredMetrics(decls, tdb, dataDir);
    // The registries are really read: a metric of each source is there.
    for (const [name, source] of [['zeno_http_request_duration_seconds_bucket', 'auth-admin'], ['zeno_auth_login_failures_total', 'auth-authorize'], ['zeno_vault_sealed', 'vault-unsealer'], ['zeno_outbox_pending', 'auth-admin'], ['zeno_ingress_certificate_expiry_timestamp_seconds', 'ingress']]) {
      assert.equal(registered.get(name!), source, name);
    }
    const stale = PROVIDED_ELSEWHERE.filter((n) => registered.has(n));
    assert.deepEqual(stale, [], 'the code registers these now: remove them from PROVIDED_ELSEWHERE');
    const { queries, variableMetrics } = queriesOf(objects);
    const used = [...queries.flatMap((q) => parsePromQL(q.expr).metrics.map((m) => ({ where: q.where, m }))), ...variableMetrics.map((v) => ({ where: v.where, m: v.expr }))];
    const unknown = used.filter(({ m }) => !registered.has(m) && !(m in EXTERNAL) && !PROVIDED_ELSEWHERE.includes(m)).map(({ where, m }) => `${where}: ${m}`);
    assert.deepEqual(unknown, []);
    // Each product's own metric reaches its dashboard and an alert.
    for (const m of ['zeno_auth_login_failures_total', 'zeno_vault_sealed', 'zeno_ingress_circuit_state', 'zeno_ingress_certificate_expiry_timestamp_seconds', 'zeno_outbox_oldest_pending_seconds', 'zeno_dead_letters_total']) {
      assert.ok(used.some((u) => u.m === m && u.where.includes('alerts.yaml')), `${m} in an alert`);
      assert.ok(used.some((u) => u.m === m && u.where.includes('dashboards/')), `${m} on a dashboard`);
    }
  });

  it('catches a query with a syntax error, an unknown metric, a misplaced panel or an unknown variable', () => {
    assert.notDeepEqual(parsePromQL('sum(rate(zeno_vault_sealed[5m])').errors, []);
    assert.notDeepEqual(parsePromQL('max(zeno_vault_seald) =').errors, []);
    assert.deepEqual(parsePromQL('max(zeno_vault_seald) == 1').metrics, ['zeno_vault_seald']);
    const [cm] = objects.get('observability/dashboards/vault.yaml')!;
    const json = JSON.parse(Object.values(cm!.data as Record<string, string>)[0]!);
    const overlapping = structuredClone(json);
    overlapping.panels[2].gridPos = { ...overlapping.panels[1].gridPos };
    assert.match(dashboardProblems(overlapping).join('\n'), /overlaps/);
    const typo = structuredClone(json);
    typo.panels[1].targets[0].exprr = typo.panels[1].targets[0].expr;
    assert.match(dashboardProblems(typo).join('\n'), /additional properties|must have required property 'expr'/);
    const variable = structuredClone(json);
    variable.panels[1].targets[0].expr += ' * $zone';
    assert.match(dashboardProblems(variable).join('\n'), /unknown variable \$zone/);
  });

  it('generates dashboards for whatever products are declared', () => {
    const sample = generateManifests(sampleDeclarations, defaultOptions('1.2.3')).objects;
    const products = [...new Set(sampleDeclarations.map((d) => d.product))].sort();
    const files = [...sample.keys()].filter((f) => f.startsWith('observability/dashboards/')).sort();
    // The dead-letter function's product (`events`) has no dashboard of its own: it joins Eventing's.
    assert.deepEqual(files, [...new Set([...products.filter((p) => p !== 'events'), 'eventing', 'ingress', 'platform'])].sort().map((n) => `observability/dashboards/${n}.yaml`));
    for (const f of files) {
      const [cm] = sample.get(f)!;
      assert.deepEqual(dashboardProblems(JSON.parse(Object.values(cm!.data as Record<string, string>)[0]!)), [], f);
    }
    // The sample's dead-letter function (product `events`): its rows join the Eventing dashboard.
    const eventing = JSON.parse(Object.values(sample.get('observability/dashboards/eventing.yaml')![0]!.data as Record<string, string>)[0]!);
    assert.ok(eventing.panels.some((p: any) => p.type === 'row' && p.title === 'Dead letters'));
    assert.ok(eventing.panels.some((p: any) => (p.targets ?? []).some((t: any) => t.expr.includes('fn=~"events-dead-letters"'))));
  });

  it('scrapes the pods the generator makes, on ports they declare', () => {
    const [functionsMonitor, ingressMonitor] = objects.get('observability/pod-monitors.yaml')! as any[];
    const selects = (monitor: any, labels: Record<string, string>) => Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => labels[k] === v);
    const ports = (podSpec: any) => podSpec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => p.name));
    const scraped = (monitor: any) => monitor.spec.podMetricsEndpoints.map((e: any) => e.port);
    for (const decl of decls) {
      // The Knative Service, or the workload of a long-running function: whatever holds its pod template.
      const workload = objects.get(`functions/${decl.name}.yaml`)!.find((o) => (o.spec as any)?.template?.spec?.containers) as any;
      const template = workload.spec.template;
      assert.ok(selects(functionsMonitor, template.metadata.labels), `${decl.name}: its pods carry the PodMonitor's labels`);
      assert.ok(ports(template.spec).some((p: string) => scraped(functionsMonitor).includes(p)), `${decl.name}: a scraped port is declared`);
    }
    const deployment = objects.get('ingress/deployment.yaml')!.find((o) => o.kind === 'Deployment') as any;
    assert.ok(selects(ingressMonitor, deployment.spec.template.metadata.labels));
    assert.deepEqual(ingressMonitor.spec.namespaceSelector.matchNames, [defaultOptions('0').gateway.namespace]);
    assert.ok(ports(deployment.spec.template.spec).includes(scraped(ingressMonitor)[0]));
  });

  it('writes the kustomization of observability/ and the committed files parse', () => {
    const [k] = objects.get('observability/kustomization.yaml')!;
    assert.deepEqual((k as any).resources, [...objects.keys()].filter((f) => f.startsWith('observability/') && !f.endsWith('kustomization.yaml')).map((f) => f.slice('observability/'.length)).sort());
    for (const doc of parseAllDocuments(readFileSync(join(root, 'knative', 'observability', 'alerts.yaml'), 'utf8'))) assert.deepEqual(doc.errors, []);
  });
});
