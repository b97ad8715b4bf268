// A world for the pure reconcile's tests: the actions applied to plain maps, and the controllers the
// reconcile waits for (CloudNativePG, the Gateway's, the RemoteSecret operator) played by hand, so a
// test can run passes until nothing is left and look at the order things happened in.
import { refKey, refOf, type Action, type Ref } from './actions.js';
import type { VaultRole } from './external.js';
import { FINALIZER } from './names.js';
import type { KubeObject } from './objects.js';
import type { Observed } from './observed.js';
import { reconcile } from './reconcile.js';
import type { ReconcileResult } from './status.js';
import type { ScopeResource } from './spec.js';

const merge = (into: any, from: any): any => {
  if (from === null || typeof from !== 'object' || Array.isArray(from)) return structuredClone(from);
  const out = into && typeof into === 'object' && !Array.isArray(into) ? { ...into } : {};
  for (const [k, v] of Object.entries(from)) out[k] = merge(out[k], v);
  return out;
};

export class SimWorld {
  objects = new Map<string, KubeObject>();
  resources = new Map<string, ScopeResource>();
  vault = { policies: {} as Record<string, string>, roles: {} as Record<string, VaultRole>, secrets: {} as Record<string, Record<string, string>> };
  clients: Record<string, { redirectUris: string[] }> = {};
  /** Every action executed, in order. */
  log: Action[] = [];
  private rv = 1;
  vaultUp = true;
  /** The API server kubeconfigs are issued for, and the clock; unset, the Kubeconfig step has no cluster. */
  cluster: { server: string; now: string } | undefined;
  /** Tokens the TokenRequest API issued, in order. */
  tokens: string[] = [];

  add(resource: ScopeResource): ScopeResource {
    const r = structuredClone(resource);
    r.metadata.uid ??= `uid-${r.metadata.name}`;
    r.metadata.generation ??= 1;
    this.resources.set(r.metadata.name, r);
    return r;
  }

  markDeleted(name: string): void {
    this.resources.get(name)!.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
  }

  observe(name: string): Observed {
    return {
      resource: structuredClone(this.resources.get(name)!),
      objects: [...this.objects.values()].map((o) => structuredClone(o)),
      ...(this.vaultUp ? { vault: structuredClone(this.vault) } : {}),
      auth: { clients: structuredClone(this.clients) },
      ...(this.cluster ? { cluster: { ...this.cluster } } : {}),
    };
  }

  private bump(o: KubeObject): KubeObject {
    o.metadata.resourceVersion = String(++this.rv);
    return o;
  }

  private find(ref: Ref): KubeObject | undefined {
    return this.objects.get(refKey(ref));
  }

  execute(name: string, action: Action): void {
    this.log.push(action);
    const res = this.resources.get(name)!;
    switch (action.type) {
      case 'addFinalizer':
        res.metadata.finalizers = [...(res.metadata.finalizers ?? []), FINALIZER];
        return;
      case 'removeFinalizer':
        res.metadata.finalizers = (res.metadata.finalizers ?? []).filter((f) => f !== FINALIZER);
        if (res.metadata.deletionTimestamp && res.metadata.finalizers.length === 0) this.resources.delete(name);
        return;
      case 'apply': {
        const key = refKey(refOf(action.object));
        this.objects.set(key, this.bump(merge(this.objects.get(key), action.object)));
        return;
      }
      case 'create': {
        const key = refKey(refOf(action.object));
        if (this.objects.has(key)) return;
        const o = structuredClone(action.object) as any;
        o.data = Object.fromEntries(Object.entries({ ...o.stringData, ...Object.fromEntries(action.generate.map((k) => [k, `generated-${k}`])) }).map(([k, v]) => [k, Buffer.from(String(v)).toString('base64')]));
        delete o.stringData;
        this.objects.set(key, this.bump(o));
        return;
      }
      case 'delete': {
        const o = this.find(action.ref);
        if (!o) return;
        if (action.resourceVersion && o.metadata.resourceVersion !== action.resourceVersion) throw Object.assign(new Error('conflict'), { status: 409 });
        this.objects.delete(refKey(action.ref));
        return;
      }
      case 'unshare': {
        const o = this.find(action.ref)!;
        if (o.metadata.resourceVersion !== action.resourceVersion) throw Object.assign(new Error('conflict'), { status: 409 });
        delete o.metadata.labels![action.label];
        this.bump(o);
        return;
      }
      case 'vaultPutPolicy':
        this.vault.policies[action.name] = action.policy;
        return;
      case 'vaultDeletePolicy':
        delete this.vault.policies[action.name];
        return;
      case 'vaultPutRole':
        this.vault.roles[action.name] = action.role;
        return;
      case 'vaultDeleteRole':
        delete this.vault.roles[action.name];
        return;
      case 'vaultPutSecret':
        this.vault.secrets[action.path] = { ...action.data };
        return;
      case 'vaultDeleteSecret':
        delete this.vault.secrets[action.path];
        return;
      case 'kubeconfigIssue': {
        if (!this.cluster) throw new Error('no cluster');
        if (!this.find({ apiVersion: 'v1', kind: 'ServiceAccount', namespace: action.namespace, name: action.serviceAccount })) throw Object.assign(new Error('not found'), { status: 404 });
        const token = `sim-token-${this.tokens.length + 1}`;
        this.tokens.push(token);
        const expirationTimestamp = new Date(Date.parse(this.cluster.now) + action.expirationSeconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
        this.vault.secrets[action.path] = { kubeconfig: `token: ${token}\nnamespace: ${action.namespace}\n`, namespace: action.namespace, serviceAccount: action.serviceAccount, serviceAccountUid: action.serviceAccountUid, server: this.cluster.server, expirationTimestamp, issuedAt: this.cluster.now };
        return;
      }
      case 'oauthCreateClient':
      case 'oauthRotateSecret': {
        this.clients[`${action.client.tenant}/${action.client.clientId}`] = { redirectUris: [...action.client.redirectUris] };
        const creds = { client_id: action.client.clientId, client_secret: 'sim-secret' };
        if ('vaultPath' in action.deliver) this.vault.secrets[action.deliver.vaultPath] = creds;
        else this.execute(name, { type: 'apply', step: action.step, object: { ...action.deliver.secret, data: creds }, force: true });
        return;
      }
      case 'oauthDeleteClient':
        delete this.clients[`${action.tenant}/${action.clientId}`];
        return;
    }
  }

  /** CloudNativePG, the Gateway's controller and the RemoteSecret operator, each doing its part once. */
  controllers(): void {
    for (const o of this.objects.values()) {
      const status = (o.status ?? {}) as any;
      if (o.apiVersion === 'postgresql.cnpg.io/v1' && status.applied !== true) o.status = { applied: true };
      if (o.kind === 'HTTPRoute' && !status.parents) o.status = { parents: [{ conditions: [{ type: 'Accepted', status: 'True' }] }] };
      if (o.kind === 'RemoteSecret' && !status.conditions) o.status = { conditions: [{ type: 'Ready', status: 'True', reason: 'SecretSynced', message: '' }] };
    }
  }

  /** Runs passes (a reconcile, its actions, the controllers) until one has nothing to do; returns every pass. */
  settle(name: string, max = 20): ReconcileResult[] {
    const passes: ReconcileResult[] = [];
    for (let i = 0; i < max && this.resources.has(name); i++) {
      const r = reconcile(this.observe(name));
      passes.push(r);
      for (const a of r.actions) this.execute(name, a);
      if (r.actions.length === 0) {
        const before = JSON.stringify([...this.objects.values()].map((o) => o.status));
        this.controllers();
        if (JSON.stringify([...this.objects.values()].map((o) => o.status)) === before) break;
      }
    }
    return passes;
  }
}
