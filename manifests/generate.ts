// Turns function declarations into the files of knative/: pure, deterministic, no I/O.
import { ANY_EVENT_TYPE, type FunctionDeclaration } from '#shared/function/define';
import { connectionBudget } from './budget.js';
import { checkDeclarations, ManifestError } from './check.js';
import { databaseCluster, databasePooler, objectStore, scheduledBackup } from './database.js';
import { httpRoute } from './http-route.js';
import { INGRESS_SELECTOR, ingressManifests } from './ingress.js';
import { observabilityManifests } from './observability/index.js';
import { operatorManifests } from './operator.js';
import type { ManifestOptions, ObjectRef } from './options.js';
import { broker, kustomization, migrateJob } from './platform.js';
import { renderDocuments } from './render.js';
import { containerEnv, knativeService } from './service.js';
import { outboxSweep, pingSource, sinkBinding } from './sources.js';
import { serviceRef, trigger } from './trigger.js';
import { callersOf, workloadManifests } from './workload.js';

export type Manifest = Record<string, unknown>;

interface GeneratedManifests {
  /** Relative path (posix) → file content, sorted by path. */
  files: Map<string, string>;
  /** Relative path → the objects written to it (what the validation test checks). */
  objects: Map<string, Manifest[]>;
  /** Things an operator must supply in an overlay (e.g. a required variable with no source). */
  warnings: string[];
}

/**
 * The objects of one function, in apply order: its workload (a Knative Service, or for a
 * long-running function a Deployment with its Service, budget and policy), SinkBinding (if it
 * emits), Triggers, PingSources (its schedules, and its product's outbox sweep if `sweeps`), HTTPRoute;
 * an operator's ServiceAccounts, roles and ApiServerSource first.
 */
function functionManifests(decl: FunctionDeclaration, all: readonly FunctionDeclaration[], opts: ManifestOptions, deadLetter: ObjectRef | undefined, sweeps: boolean) {
  const { env, warnings } = containerEnv(decl, opts);
  // An operator's ServiceAccount and roles go before the Service that runs as it.
  const docs: Manifest[] = decl.longRunning ? workloadManifests(decl, opts, env, callersOf(decl, all), INGRESS_SELECTOR) : [...operatorManifests(decl, opts), knativeService(decl, opts, env)];
  if (decl.emits?.length) docs.push(decl.longRunning ? longRunningSinkBinding(decl, opts) : sinkBinding(decl, opts));
  for (const sub of decl.subscribes ?? []) docs.push(trigger(decl, sub, opts, deadLetter));
  for (const sch of decl.schedules ?? []) docs.push(pingSource(decl, sch, opts));
  if (sweeps) docs.push(outboxSweep(decl, opts));
  const route = httpRoute(decl, opts);
  if (route) docs.push(route);
  return { docs, warnings };
}

/**
 * Generates every file of knative/ from the declarations; throws ManifestError on bad input.
 * `crds` are our custom resources (crds/), installed with the ingress.
 */
export function generateManifests(decls: readonly FunctionDeclaration[], opts: ManifestOptions, crds: readonly Manifest[] = []): GeneratedManifests {
  checkDeclarations(decls, opts.resources.limits);
  const budget = connectionBudget(decls, opts.databaseCluster);
  if (budget.problems.length) throw new ManifestError(budget.problems);
  const sorted = [...decls].sort((a, b) => a.name.localeCompare(b.name));
  const warnings: string[] = [];
  if (opts.baseUrl === undefined) warnings.push('no --base-url: ZENO_BASE_URL is left to an overlay (until it is set, OIDC issuers name http://localhost:8080)');
  const wantsDeadLetter = sorted.some((d) => (d.subscribes ?? []).some((s) => s.deadLetter !== false));
  const hasDeadLetter = sorted.some((d) => d.name === opts.deadLetterService);
  const deadLetter = hasDeadLetter ? serviceRef(opts.deadLetterService) : undefined;
  if (wantsDeadLetter && !hasDeadLetter) {
    warnings.push(`no function ${opts.deadLetterService} is declared: Triggers carry no dead-letter sink`);
  }

  const objects = new Map<string, Manifest[]>();
  objects.set('platform/broker.yaml', [broker(opts, deadLetter)]);
  objects.set('platform/migrate-job.yaml', [migrateJob(opts)]);
  // One outbox sweep per product, on its first emitting function (by name): any of its pods
  // drains the whole product's outbox.
  const sweepers = new Set<string>();
  const swept = new Set<string>();
  for (const decl of sorted) {
    // '*' alone (a replay, sent straight to the Broker) writes no outbox; a long-running
    // function never scales to zero, so its relay needs no sweep.
    if (decl.longRunning || !decl.emits?.some((t) => t !== ANY_EVENT_TYPE) || swept.has(decl.product)) continue;
    swept.add(decl.product);
    sweepers.add(decl.name);
  }
  for (const decl of sorted) {
    const fn = functionManifests(decl, sorted, opts, deadLetter, sweepers.has(decl.name));
    objects.set(`functions/${decl.name}.yaml`, fn.docs);
    warnings.push(...fn.warnings);
  }
  assertUniqueNames(objects);
  objects.set('kustomization.yaml', [kustomization(opts.namespace, [...objects.keys()])]);
  // The database has its own lifecycle: applied once with `kubectl apply -k knative/database`.
  const database = new Map([
    ['cluster.yaml', [databaseCluster(opts)]],
    ['pooler.yaml', [databasePooler(opts)]],
    ['backup.yaml', [objectStore(opts), scheduledBackup(opts)]],
  ]);
  for (const [file, docs] of database) objects.set(`database/${file}`, docs);
  objects.set('database/kustomization.yaml', [kustomization(opts.namespace, [...database.keys()])]);
  // The ingress lives in the Gateway's namespace (cluster-wide objects besides): a kustomization
  // of its own, since the `namespace` of knative/kustomization.yaml would move the Gateway.
  const ingress = ingressManifests(opts, crds);
  for (const [file, docs] of ingress) objects.set(`ingress/${file}`, docs);
  objects.set('ingress/kustomization.yaml', [kustomization(opts.gateway.namespace, [...ingress.keys()])]);
  // Dashboards, alerts and scrape targets need the Prometheus Operator's CRDs: applied on their own.
  const observability = observabilityManifests(sorted, opts);
  for (const [file, docs] of observability) objects.set(`observability/${file}`, docs);
  objects.set('observability/kustomization.yaml', [kustomization(opts.namespace, [...observability.keys()])]);

  const paths = [...objects.keys()].sort();
  const files = new Map(paths.map((p) => [p, renderDocuments(objects.get(p)!)]));
  return { files, objects: new Map(paths.map((p) => [p, objects.get(p)!])), warnings };
}

/** A SinkBinding binds the pods of any PodSpecable: for a long-running function, its Deployment. */
function longRunningSinkBinding(decl: FunctionDeclaration, opts: ManifestOptions): Manifest {
  const binding = sinkBinding(decl, opts);
  return { ...binding, spec: { ...(binding.spec as Manifest), subject: { apiVersion: 'apps/v1', kind: 'Deployment', name: decl.name } } };
}

function assertUniqueNames(objects: Map<string, Manifest[]>): void {
  const seen = new Map<string, string>();
  const problems: string[] = [];
  for (const [path, docs] of objects) {
    for (const doc of docs) {
      const key = `${doc.kind as string}/${(doc.metadata as { name: string }).name}`;
      const prior = seen.get(key);
      if (prior) problems.push(`${key} is generated twice (${prior} and ${path})`);
      seen.set(key, path);
    }
  }
  if (problems.length) throw new ManifestError(problems);
}
