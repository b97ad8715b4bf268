// The pure reconcile of a ZenoScope or ZenoApp (kubebuilder's shape, without I/O): from what was
// observed, the actions that move the world one pass closer to the spec, and the status to report.
// Level-triggered and idempotent: when the world holds the spec it returns no action. Steps run in
// dependency order (STEPS); a step's actions are emitted only once every earlier step is ready, so
// nothing is created before what it needs. A deleting resource is torn down in reverse (teardown.ts).
import { CONDITION_OF, STEPS, refKey, refOf, type Action, type SecretDestination, type Step } from './actions.js';
import { World, type StepResult } from './world.js';
import { holds } from './compare.js';
import type { Condition } from './conditions.js';
import { sameRole } from './external.js';
import { TOKEN_SECONDS, kubeconfigAccount, kubeconfigPath, kubeconfigVerdict, type KubeconfigEntry } from './kubeconfig.js';
import { FINALIZER, OWNER_LABEL, SHARER_PREFIX } from './names.js';
import { connectionData, databaseSecretObject, oauthSecretObject, type KubeObject } from './objects.js';
import type { Observed } from './observed.js';
import { planOf, type Plan } from './plan.js';
import type { ReconcileResult, ScopeStatus } from './status.js';
import { teardown } from './teardown.js';

const ok = (message = 'Provisioned'): StepResult => ({ actions: [], ready: true, reason: 'Provisioned', message });
const waiting = (actions: Action[], reason: string, message: string): StepResult => ({ actions, ready: false, reason, message });

/** Applies what is missing or drifted, deletes what this resource owns in the step and no longer wants. */
function converge(step: Step, want: KubeObject[], world: World, uid: string, shared = false, keep: KubeObject[] = []): { actions: Action[]; pending: KubeObject[] } {
  const actions: Action[] = [];
  const pending: KubeObject[] = [];
  for (const o of want) {
    const have = world.get(o);
    if (!have || !holds(o, have)) {
      actions.push({ type: 'apply', step, object: o, force: !(shared && o.metadata.labels?.[`${SHARER_PREFIX}${uid}`]) });
      pending.push(o);
    }
  }
  const wanted = new Set([...want, ...keep].map((o) => refKey(refOf(o))));
  for (const o of world.ofStep(step, uid)) {
    if (!wanted.has(refKey(refOf(o))) && o.metadata.labels?.[OWNER_LABEL] === uid && !o.metadata.deletionTimestamp) actions.push({ type: 'delete', step, ref: refOf(o) });
  }
  return { actions, pending };
}

/** CloudNativePG reports a declarative object's outcome in status.applied and status.message. */
function cnpgApplied(o: KubeObject | undefined): { applied: boolean; message?: string } {
  const status = (o?.status ?? {}) as { applied?: boolean; message?: string };
  return { applied: status.applied === true, ...(status.message ? { message: status.message } : {}) };
}

function namespaceStep(plan: Plan, world: World): StepResult {
  const { actions, pending } = converge('Namespace', plan.objects.Namespace, world, plan.names.uid);
  const ns = plan.names.ownsNamespace ? world.byKey.get(refKey({ apiVersion: 'v1', kind: 'Namespace', name: plan.names.namespace })) : undefined;
  if (ns?.metadata.deletionTimestamp) return waiting(actions, 'NamespaceTerminating', `namespace ${plan.names.namespace} is being deleted`);
  if (pending.length > 0) return waiting(actions, 'Applying', `applying ${pending.map((o) => `${o.kind} ${o.metadata.name}`).join(', ')}`);
  return { ...ok(`namespace ${plan.names.namespace}`), actions };
}

function databaseStep(plan: Plan, world: World): StepResult {
  const want = plan.objects.Database;
  const [ownerRole, loginRole, database] = want as [KubeObject, KubeObject, KubeObject];
  const actions: Action[] = [];
  if (plan.passwordSecret && !world.get(plan.passwordSecret)) actions.push({ type: 'create', step: 'Database', object: plan.passwordSecret, generate: ['password'] });
  // The roles first: the Database names its owner, which must exist when CloudNativePG creates it.
  const keep = plan.passwordSecret ? [plan.passwordSecret] : [];
  const roles = converge('Database', [ownerRole, loginRole], world, plan.names.uid, true, keep);
  actions.push(...roles.actions.filter((a) => a.type === 'apply'));
  const rolesApplied = [ownerRole, loginRole].map((o) => cnpgApplied(world.get(o)));
  if (actions.length > 0 || rolesApplied.some((r) => !r.applied)) {
    const msg = rolesApplied.find((r) => r.message)?.message;
    return waiting(actions, 'RoleNotApplied', msg ? `CloudNativePG: ${msg}` : `waiting for CloudNativePG to create roles ${plan.names.databaseOwner} and ${plan.names.loginRole}`);
  }
  const all = converge('Database', want, world, plan.names.uid, true, keep);
  const db = cnpgApplied(world.get(database));
  if (all.actions.length > 0 || !db.applied) {
    return waiting(all.actions, 'DatabaseNotApplied', db.message ? `CloudNativePG: ${db.message}` : `waiting for CloudNativePG to create database ${plan.names.database}`);
  }
  return ok(`database ${plan.names.database}, role ${plan.names.loginRole}`);
}

function vaultStep(plan: Plan, world: World): StepResult {
  const vault = world.observed.vault;
  if (!vault) return waiting([], 'VaultUnavailable', 'no ZenoVault is configured for the reconciler');
  const actions: Action[] = [];
  const { vaultPolicy: policy, vaultRole: role } = plan.names;
  if (vault.policies[policy] !== plan.policy) actions.push({ type: 'vaultPutPolicy', step: 'Vault', name: policy, policy: plan.policy });
  if (!sameRole(plan.role, vault.roles[role])) actions.push({ type: 'vaultPutRole', step: 'Vault', name: role, role: plan.role });
  if (actions.length > 0) return waiting(actions, 'Applying', `writing policy and role ${policy}`);
  return ok(`policy and role ${policy} over secret/${plan.names.vaultPath}`);
}

/**
 * After the vault's policy and role: the ServiceAccount, Role and RoleBinding, then a token for the
 * account and the kubeconfig holding it in the vault. A token near its expiry is issued again while
 * the step stays ready (the old one still works until then).
 */
function kubeconfigStep(plan: Plan, world: World): StepResult {
  const { names } = plan;
  const cluster = world.observed.cluster;
  if (!cluster) return { actions: [], ready: true, reason: 'NoCluster', message: 'no Kubernetes API server to issue a kubeconfig for' };
  const c = converge('Kubeconfig', plan.objects.Kubeconfig, world, names.uid);
  const account = kubeconfigAccount(names);
  if (c.actions.length > 0) return waiting(c.actions, 'Applying', `applying ServiceAccount, Role and RoleBinding ${account}`);
  const sa = world.get(plan.objects.Kubeconfig[0]!);
  const path = kubeconfigPath(names);
  const have = world.observed.vault?.secrets[path] as Partial<KubeconfigEntry> | undefined;
  const verdict = kubeconfigVerdict(have, { namespace: names.namespace, serviceAccount: account, serviceAccountUid: sa?.metadata.uid, server: cluster.server }, cluster.now);
  if (!verdict.issue) return ok(`kubeconfig of ServiceAccount ${account} in secret/${path}, its token valid until ${have!.expirationTimestamp}`);
  const issue: Action = { type: 'kubeconfigIssue', step: 'Kubeconfig', namespace: names.namespace, serviceAccount: account, serviceAccountUid: sa?.metadata.uid ?? '', expirationSeconds: TOKEN_SECONDS, path, context: names.base };
  if (verdict.renew) return { ...ok(`renewing the token of ServiceAccount ${account}: ${verdict.why}`), actions: [issue] };
  return waiting([issue], 'IssuingToken', `issuing a token of ServiceAccount ${account}: ${verdict.why}`);
}

function passwordOf(plan: Plan, world: World): string | undefined {
  const secret = plan.passwordSecret && world.get(plan.passwordSecret);
  const b64 = (secret?.data as Record<string, string> | undefined)?.password;
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

function secretsStep(plan: Plan, world: World): StepResult {
  const { names, spec } = plan;
  if (!spec.database.enabled) return { ...converge('Secrets', [], world, names.uid), ready: true, reason: 'Provisioned', message: 'no database credentials to deliver' };
  const password = passwordOf(plan, world);
  if (password === undefined) return waiting([], 'PasswordMissing', `the password Secret ${names.passwordSecret} has no password`);
  const data = connectionData(names, spec, password, world.observed.databaseEndpoint);
  if (spec.vault.enabled) {
    const vault = world.observed.vault!;
    const path = `${names.vaultPath}/database`;
    const actions: Action[] = [];
    if (!holds(data, vault.secrets[path]) || Object.keys(vault.secrets[path] ?? {}).length !== Object.keys(data).length) actions.push({ type: 'vaultPutSecret', step: 'Secrets', path, data });
    const c = converge('Secrets', plan.objects.Secrets, world, names.uid);
    actions.push(...c.actions);
    const rs = world.get(plan.objects.Secrets[0]!);
    const ready = ((rs?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find((x) => x.type === 'Ready');
    if (actions.length > 0 || ready?.status !== 'True') return waiting(actions, 'RemoteSecretNotSynced', ready?.message ?? `waiting for RemoteSecret ${names.databaseSecret} to sync`);
    return ok(`credentials in secret/${path}, synced to Secret ${names.databaseSecret}`);
  }
  const c = converge('Secrets', [databaseSecretObject(names, data)], world, names.uid);
  if (c.actions.length > 0) return waiting(c.actions, 'Applying', `writing Secret ${names.databaseSecret}`);
  return ok(`credentials in Secret ${names.databaseSecret}`);
}

/** Gateway API: a route is usable once a parent (the Gateway's controller) has accepted it. */
function accepted(route: KubeObject | undefined): boolean {
  const parents = ((route?.status as { parents?: { conditions?: Condition[] }[] } | undefined)?.parents ?? []);
  return parents.some((p) => (p.conditions ?? []).some((c) => c.type === 'Accepted' && c.status === 'True'));
}

function routeStep(plan: Plan, world: World): StepResult {
  const c = converge('Route', plan.objects.Route, world, plan.names.uid);
  if (c.actions.length > 0) return waiting(c.actions, 'Applying', `applying ${c.pending.length} HTTPRoute(s)`);
  const refused = plan.objects.Route.filter((r) => !accepted(world.get(r)));
  if (refused.length > 0) return waiting([], 'RouteNotAccepted', `waiting for the Gateway to accept ${refused.map((r) => r.metadata.name).join(', ')}`);
  return ok(`${plan.objects.Route.length} HTTPRoute(s) accepted`);
}

function oauthStep(plan: Plan, world: World): StepResult {
  const auth = world.observed.auth;
  const want = plan.oauth!;
  if (!auth) return waiting([], 'AuthUnavailable', 'no ZenoAuth is configured for the reconciler');
  const have = auth.clients[`${want.tenant}/${want.clientId}`];
  const vaultPath = `${plan.names.vaultPath}/oauth`;
  const secret = oauthSecretObject(plan.names);
  const deliver: SecretDestination = plan.spec.vault.enabled ? { vaultPath } : { secret };
  if (!have) return waiting([{ type: 'oauthCreateClient', step: 'OAuthClient', client: want, deliver }], 'Applying', `creating client ${want.clientId}`);
  if (JSON.stringify([...have.redirectUris].sort()) !== JSON.stringify([...want.redirectUris].sort())) {
    // ZenoAuth's admin API has no update of redirect URIs: the client is made again (with a new secret).
    return waiting([{ type: 'oauthDeleteClient', step: 'OAuthClient', tenant: want.tenant, clientId: want.clientId }, { type: 'oauthCreateClient', step: 'OAuthClient', client: want, deliver }], 'Applying', `replacing client ${want.clientId}`);
  }
  const delivered = plan.spec.vault.enabled ? world.observed.vault?.secrets[vaultPath]?.client_id === want.clientId : world.get(secret) !== undefined;
  if (!delivered) return waiting([{ type: 'oauthRotateSecret', step: 'OAuthClient', client: want, deliver }], 'SecretNotDelivered', `delivering a new secret of client ${want.clientId}`);
  return ok(`client ${want.clientId} in tenant ${want.tenant}`);
}

function monitoringStep(plan: Plan, world: World): StepResult {
  const c = converge('Monitoring', plan.objects.Monitoring, world, plan.names.uid);
  if (c.actions.length > 0) return waiting(c.actions, 'Applying', 'applying the ServiceMonitor');
  return ok(`ServiceMonitor ${plan.names.base}`);
}

const RUN: Record<Step, (plan: Plan, world: World) => StepResult> = {
  Namespace: namespaceStep,
  Database: databaseStep,
  Vault: vaultStep,
  Kubeconfig: kubeconfigStep,
  Secrets: secretsStep,
  Route: routeStep,
  OAuthClient: oauthStep,
  Monitoring: monitoringStep,
};

/** Whether a step is asked for; a step not asked for still removes what it made before. */
function enabled(plan: Plan, step: Step): boolean {
  const s = plan.spec;
  switch (step) {
    case 'Namespace':
      return true;
    case 'Database':
    case 'Secrets':
      return s.database.enabled;
    case 'Vault':
    case 'Kubeconfig':
      return s.vault.enabled;
    case 'Route':
      return s.ingress.enabled;
    case 'OAuthClient':
      return s.oauth.enabled;
    case 'Monitoring':
      return s.monitoring.enabled;
  }
}

/** A step not asked for: removes what this resource made in it earlier (a route of a host since removed, …). */
function disabledStep(step: Step, plan: Plan, world: World): StepResult {
  const leftovers = teardown.stepActions(step, plan, world);
  if (leftovers.length > 0) return waiting(leftovers, 'Removing', `removing what ${step} made before it was disabled`);
  return { actions: [], ready: true, reason: 'Disabled', message: `${step} is not asked for` };
}

export function reconcile(observed: Observed): ReconcileResult {
  const { resource } = observed;
  const plan = planOf(resource);
  const world = new World(observed);
  const generation = resource.metadata.generation;
  const base = { ...(generation !== undefined ? { observedGeneration: generation } : {}), namespace: plan.names.namespace };
  const finalizers = resource.metadata.finalizers ?? [];
  if (resource.metadata.deletionTimestamp) return teardown.run(plan, world, base, finalizers.includes(FINALIZER));
  const gen = generation !== undefined ? { observedGeneration: generation } : {};
  if (plan.problems.length > 0) {
    return {
      actions: [],
      done: true,
      status: { ...base, phase: 'Failed', conditions: [{ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: plan.problems.join('; '), ...gen }] },
    };
  }
  const actions: Action[] = finalizers.includes(FINALIZER) ? [] : [{ type: 'addFinalizer' }];
  const conditions: Condition[] = [];
  let blockedBy: Step | undefined;
  for (const step of STEPS) {
    const type = CONDITION_OF[step];
    if (blockedBy) {
      conditions.push({ type, status: 'False', reason: 'Waiting', message: `waiting for ${CONDITION_OF[blockedBy]}`, ...gen });
      continue;
    }
    const r = enabled(plan, step) ? RUN[step](plan, world) : disabledStep(step, plan, world);
    actions.push(...r.actions);
    conditions.push({ type, status: r.ready ? 'True' : 'False', reason: r.reason, message: r.message, ...gen });
    if (!r.ready) blockedBy = step;
  }
  const blocking = blockedBy && conditions.find((c) => c.type === CONDITION_OF[blockedBy]);
  conditions.push(blocking ? { type: 'Ready', status: 'False', reason: 'Provisioning', message: `${blocking.type}: ${blocking.message}`, ...gen } : { type: 'Ready', status: 'True', reason: 'Provisioned', message: 'every step is provisioned', ...gen });
  const s = plan.spec;
  const status: ScopeStatus = {
    ...base,
    phase: blockedBy ? 'Provisioning' : 'Ready',
    ...(s.database.enabled ? { databaseSecret: plan.names.databaseSecret } : {}),
    ...(s.vault.enabled ? { vaultPath: plan.names.vaultPath } : {}),
    ...(s.oauth.enabled ? { oauthClientId: plan.names.oauthClientId } : {}),
    conditions,
  };
  return { actions, status, done: actions.length === 0 && !blockedBy };
}

