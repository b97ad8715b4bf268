// Teardown of a deleting ZenoScope or ZenoApp: the steps in reverse dependency order (monitoring,
// OAuth client, routes, secrets, kubeconfig, vault policy and role, database role and database, namespace),
// each finished (its objects gone, not only asked to go) before the next starts; the finalizer is
// removed last. A database shared with other resources is left to them: this resource only takes
// its sharer label off, and the last one deletes it (both with a resourceVersion precondition, so
// two resources leaving at once cannot both think the other stays).
import { CONDITION_OF, STEPS, refOf, type Action, type Step } from './actions.js';
import type { Condition } from './conditions.js';
import { kubeconfigPath } from './kubeconfig.js';
import { OWNER_LABEL, SHARER_PREFIX } from './names.js';
import type { KubeObject } from './objects.js';
import type { Plan } from './plan.js';
import type { ReconcileResult, ScopeStatus } from './status.js';
import type { World } from './world.js';

interface Leftovers {
  actions: Action[];
  /** What is still there, for the condition's message. */
  remaining: string[];
}

const describe = (o: KubeObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Deletes each object not already going; all of them remain until gone. */
function removeAll(step: Step, objects: KubeObject[]): Leftovers {
  return {
    actions: objects.filter((o) => !o.metadata.deletionTimestamp).map((o) => ({ type: 'delete', step, ref: refOf(o) }) as Action),
    remaining: objects.map(describe),
  };
}

const otherSharers = (o: KubeObject, uid: string) => Object.keys(o.metadata.labels ?? {}).filter((k) => k.startsWith(SHARER_PREFIX) && k !== `${SHARER_PREFIX}${uid}`);

function databaseLeftovers(plan: Plan, world: World): Leftovers {
  const uid = plan.names.uid;
  const objects = world.ofStep('Database', uid);
  const owned = objects.filter((o) => o.metadata.labels?.[OWNER_LABEL] === uid);
  const database = objects.find((o) => o.kind === 'Database' && o.metadata.labels?.[`${SHARER_PREFIX}${uid}`] === 'true');
  const ownerRole = objects.find((o) => o.kind === 'DatabaseRole' && o.metadata.labels?.[`${SHARER_PREFIX}${uid}`] === 'true');
  const remaining = objects.map(describe);
  const label = `${SHARER_PREFIX}${uid}`;
  // The last user drops the database before its login role, so that role owns nothing left when dropped.
  if (database && otherSharers(database, uid).length === 0) {
    return { actions: database.metadata.deletionTimestamp ? [] : [{ type: 'delete', step: 'Database', ref: refOf(database), resourceVersion: database.metadata.resourceVersion! }], remaining };
  }
  if (owned.length > 0) return { actions: removeAll('Database', owned).actions, remaining };
  const actions: Action[] = [];
  for (const shared of [database, ownerRole]) {
    if (!shared || shared.metadata.deletionTimestamp) continue;
    if (otherSharers(shared, uid).length > 0) actions.push({ type: 'unshare', step: 'Database', ref: refOf(shared), label, resourceVersion: shared.metadata.resourceVersion! });
    else actions.push({ type: 'delete', step: 'Database', ref: refOf(shared), resourceVersion: shared.metadata.resourceVersion! });
  }
  return { actions, remaining };
}

/** Whether this resource may have made something in ZenoVault or ZenoAuth (asked now, or reported before). */
function madeExternally(plan: Plan, world: World, field: 'vaultPath' | 'oauthClientId'): boolean {
  const reported = (world.observed.resource.status as Record<string, unknown> | undefined)?.[field];
  return field === 'vaultPath' ? plan.spec.vault.enabled || reported !== undefined : plan.spec.oauth.enabled || reported !== undefined;
}

/** What is left of one step, and the actions that remove the next part of it. */
function stepActions(step: Step, plan: Plan, world: World): Action[] {
  return leftovers(step, plan, world).actions;
}

function leftovers(step: Step, plan: Plan, world: World): Leftovers {
  const { names } = plan;
  const vault = world.observed.vault;
  switch (step) {
    case 'Monitoring':
    case 'Route':
      return removeAll(step, world.ofStep(step, names.uid));
    case 'OAuthClient': {
      const out = removeAll(step, world.ofStep(step, names.uid));
      if (!madeExternally(plan, world, 'oauthClientId')) return out;
      const auth = world.observed.auth;
      if (!auth) return { actions: out.actions, remaining: [...out.remaining, 'an OAuth client in ZenoAuth, which is not configured'] };
      const tenant = plan.spec.oauth.tenant;
      if (auth.clients[`${tenant}/${names.oauthClientId}`]) {
        out.actions.push({ type: 'oauthDeleteClient', step, tenant, clientId: names.oauthClientId });
        out.remaining.push(`OAuth client ${names.oauthClientId}`);
      }
      const path = `${names.vaultPath}/oauth`;
      if (vault?.secrets[path]) {
        out.actions.push({ type: 'vaultDeleteSecret', step, path });
        out.remaining.push(`secret/${path}`);
      }
      return out;
    }
    case 'Secrets': {
      const out = removeAll(step, world.ofStep(step, names.uid));
      const path = `${names.vaultPath}/database`;
      if (vault?.secrets[path]) {
        out.actions.push({ type: 'vaultDeleteSecret', step, path });
        out.remaining.push(`secret/${path}`);
      }
      return out;
    }
    case 'Kubeconfig': {
      // The kubeconfig first, then the RoleBinding, the Role and the ServiceAccount (reverse of their making).
      const order = ['RoleBinding', 'Role', 'ServiceAccount'];
      const objects = world.ofStep(step, names.uid).sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
      const out = removeAll(step, objects);
      const path = kubeconfigPath(names);
      if (vault?.secrets[path]) {
        out.actions.unshift({ type: 'vaultDeleteSecret', step, path });
        out.remaining.unshift(`secret/${path}`);
      }
      return out;
    }
    case 'Vault': {
      if (!madeExternally(plan, world, 'vaultPath')) return { actions: [], remaining: [] };
      if (!vault) return { actions: [], remaining: ['a policy and role in ZenoVault, which is not configured'] };
      const out: Leftovers = { actions: [], remaining: [] };
      if (vault.roles[names.vaultRole]) {
        out.actions.push({ type: 'vaultDeleteRole', step, name: names.vaultRole });
        out.remaining.push(`vault role ${names.vaultRole}`);
      }
      if (vault.policies[names.vaultPolicy] !== undefined) {
        out.actions.push({ type: 'vaultDeletePolicy', step, name: names.vaultPolicy });
        out.remaining.push(`vault policy ${names.vaultPolicy}`);
      }
      return out;
    }
    case 'Database':
      return databaseLeftovers(plan, world);
    case 'Namespace': {
      const objects = world.ofStep(step, names.uid);
      // Deleting the namespace deletes what is in it; a ZenoApp's namespace is not ours, so its objects go one by one.
      const ns = objects.find((o) => o.kind === 'Namespace');
      return ns ? { actions: removeAll(step, [ns]).actions, remaining: objects.map(describe) } : removeAll(step, objects);
    }
  }
}

function run(plan: Plan, world: World, base: Pick<ScopeStatus, 'observedGeneration' | 'namespace'>, hasFinalizer: boolean): ReconcileResult {
  const gen = base.observedGeneration !== undefined ? { observedGeneration: base.observedGeneration } : {};
  const conditions: Condition[] = [];
  let actions: Action[] = [];
  let current: Step | undefined;
  let message = '';
  for (const step of [...STEPS].reverse()) {
    const type = CONDITION_OF[step];
    if (current || !hasFinalizer) {
      conditions.unshift({ type, status: 'Unknown', reason: 'PendingTeardown', message: `removed after ${current ?? 'the others'}`, ...gen });
      continue;
    }
    const left = leftovers(step, plan, world);
    if (left.remaining.length > 0 || left.actions.length > 0) {
      current = step;
      actions = left.actions;
      message = left.remaining.join(', ');
      conditions.unshift({ type, status: 'False', reason: 'TearingDown', message: `removing ${message}`, ...gen });
    } else {
      conditions.unshift({ type, status: 'False', reason: 'Removed', message: `${step} is removed`, ...gen });
    }
  }
  if (hasFinalizer && !current) actions = [{ type: 'removeFinalizer' }];
  conditions.push({ type: 'Ready', status: 'False', reason: 'Deleting', message: current ? `${CONDITION_OF[current]}: removing ${message}` : 'everything is removed', ...gen });
  return { actions, done: !hasFinalizer, status: { ...base, phase: 'Deleting', conditions } };
}

export const teardown = { run, stepActions };
