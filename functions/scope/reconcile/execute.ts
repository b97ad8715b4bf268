// Carries out the reconcile's actions, one at a time in the order given; the first that fails stops
// the pass (what follows depends on it) and is reported on its step's condition.
import { randomBytes } from 'node:crypto';
import type { Action, SecretDestination } from '#functions/scope/core/actions';
import { kubeconfigYaml, type KubeconfigEntry } from '#functions/scope/core/kubeconfig';
import { FINALIZER } from '#functions/scope/core/names';
import { base64Values, type KubeObject } from '#functions/scope/core/objects';
import type { ScopeResource } from '#functions/scope/core/spec';
import { AuthApiError } from './auth-api.js';
import { pathOf } from './kube.js';
import type { Reconciler } from './deps.js';

/** The field manager of one resource: shared objects see one manager per resource using them. */
const fieldManagerOf = (resource: ScopeResource) => `zenokube-scope.${resource.metadata.uid ?? resource.metadata.name}`;

const refOfResource = (res: ScopeResource) => ({ apiVersion: res.apiVersion, kind: res.kind, ...(res.metadata.namespace ? { namespace: res.metadata.namespace } : {}), name: res.metadata.name });

async function deliver(r: Reconciler, resource: ScopeResource, to: SecretDestination, clientId: string, clientSecret: string): Promise<void> {
  const data = { client_id: clientId, client_secret: clientSecret };
  if ('vaultPath' in to) {
    if (!r.vault) throw new Error('no ZenoVault is configured to deliver the client secret to');
    await r.vault.putSecret(to.vaultPath, data);
  } else await r.kube.apply({ ...to.secret, data: base64Values(data) }, fieldManagerOf(resource), true);
}

export async function execute(r: Reconciler, resource: ScopeResource, action: Action): Promise<void> {
  const manager = fieldManagerOf(resource);
  const vault = () => {
    if (!r.vault) throw new Error('no ZenoVault is configured');
    return r.vault;
  };
  const auth = () => {
    if (!r.auth) throw new Error('no ZenoAuth is configured');
    return r.auth;
  };
  switch (action.type) {
    case 'addFinalizer':
    case 'removeFinalizer': {
      const have = resource.metadata.finalizers ?? [];
      const finalizers = action.type === 'addFinalizer' ? [...have.filter((f) => f !== FINALIZER), FINALIZER] : have.filter((f) => f !== FINALIZER);
      // The resourceVersion makes it a precondition: a finalizer list changed meanwhile is not overwritten.
      const out = await r.kube.mergePatch(refOfResource(resource), { metadata: { finalizers, resourceVersion: resource.metadata.resourceVersion } });
      resource.metadata.resourceVersion = out?.metadata?.resourceVersion;
      resource.metadata.finalizers = finalizers;
      return;
    }
    case 'apply':
      await r.kube.apply(action.object, manager, action.force);
      return;
    case 'create': {
      const generated = Object.fromEntries(action.generate.map((k) => [k, randomBytes(24).toString('base64url')]));
      const { stringData, ...rest } = action.object as KubeObject & { stringData?: Record<string, string> };
      await r.kube.create({ ...rest, data: base64Values({ ...stringData, ...generated }) });
      return;
    }
    case 'delete':
      await r.kube.remove(action.ref, action.resourceVersion);
      return;
    case 'unshare':
      await r.kube.mergePatch(action.ref, { metadata: { labels: { [action.label]: null }, resourceVersion: action.resourceVersion } });
      return;
    case 'vaultPutPolicy':
      return vault().putPolicy(action.name, action.policy);
    case 'vaultDeletePolicy':
      return vault().deletePolicy(action.name);
    case 'vaultPutRole':
      return vault().putRole(action.name, action.role);
    case 'vaultDeleteRole':
      return vault().deleteRole(action.name);
    case 'vaultPutSecret':
      return vault().putSecret(action.path, action.data);
    case 'vaultDeleteSecret':
      return vault().deleteSecret(action.path);
    case 'kubeconfigIssue': {
      if (!r.cluster || !r.kube.requestToken) throw new Error('no Kubernetes API server to issue a kubeconfig for');
      const v = vault();
      const issuedAt = r.now().toISOString();
      const { token, expirationTimestamp } = await r.kube.requestToken(action.namespace, action.serviceAccount, action.expirationSeconds);
      const kubeconfig = kubeconfigYaml({ server: r.cluster.server, ...(r.cluster.ca ? { ca: r.cluster.ca } : {}), token, user: action.serviceAccount, namespace: action.namespace, context: action.context });
      const entry: KubeconfigEntry = { kubeconfig, namespace: action.namespace, serviceAccount: action.serviceAccount, serviceAccountUid: action.serviceAccountUid, server: r.cluster.server, expirationTimestamp, issuedAt };
      return v.putSecret(action.path, { ...entry });
    }
    case 'oauthCreateClient': {
      // Made by a pass that stopped before delivering its secret: a new secret is issued instead.
      const secret = await auth()
        .createClient(action.client)
        .catch((err: unknown) => (err instanceof AuthApiError && err.status === 409 ? auth().rotateSecret(action.client.tenant, action.client.clientId) : Promise.reject(err as Error)));
      return deliver(r, resource, action.deliver, action.client.clientId, secret);
    }
    case 'oauthRotateSecret':
      return deliver(r, resource, action.deliver, action.client.clientId, await auth().rotateSecret(action.client.tenant, action.client.clientId));
    case 'oauthDeleteClient':
      return auth().deleteClient(action.tenant, action.clientId);
  }
}

/** A short description of an action for the log and a failed condition (names only, never data). */
export function describeAction(a: Action): string {
  switch (a.type) {
    case 'apply':
    case 'create':
      return `${a.type} ${pathOf({ ...a.object, namespace: a.object.metadata.namespace, name: a.object.metadata.name })}`;
    case 'delete':
    case 'unshare':
      return `${a.type} ${pathOf(a.ref)}`;
    case 'vaultPutSecret':
    case 'vaultDeleteSecret':
    case 'kubeconfigIssue':
      return `${a.type} secret/${a.path}`;
    case 'vaultPutPolicy':
    case 'vaultDeletePolicy':
    case 'vaultPutRole':
    case 'vaultDeleteRole':
      return `${a.type} ${a.name}`;
    case 'oauthCreateClient':
    case 'oauthRotateSecret':
      return `${a.type} ${a.client.tenant}/${a.client.clientId}`;
    case 'oauthDeleteClient':
      return `${a.type} ${a.tenant}/${a.clientId}`;
    default:
      return a.type;
  }
}
