// knative/ingress/: ZenoIngress as a cluster runs it, and the generated HTTPRoutes resolving to the
// Knative Services they name, through ZenoIngress's own engine.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { defaultOptions, generateManifests, HTTP_LISTENER_PORT, INGRESS_PORT_OFFSET, readCrds, type Manifest } from '#manifests/index';
import type { Gateway, HTTPRoute, ResourceSet, Service } from '#functions/ingress/index';
import { compile, CONTROLLER_NAME, emptyResourceSet, LEADER_LEASE_NAME, matchRequest, statusProblems, WATCHED } from '#functions/ingress/index';
import { sampleDeclarations } from './sample-declarations.js';

const opts = defaultOptions('1.2.3');
const { objects } = generateManifests(sampleDeclarations, opts, readCrds());
const all = (file: string): any[] => objects.get(`ingress/${file}`)! as any[];
const one = (file: string, kind: string): any => all(file).find((d: Manifest) => d.kind === kind);

describe('knative/ingress/', () => {
  it('installs the ExtAuthFilter CRD and a GatewayClass ZenoIngress claims', () => {
    assert.equal(one('crds.yaml', 'CustomResourceDefinition').metadata.name, 'extauthfilters.ingress.zenokube.io');
    assert.equal(one('gateway.yaml', 'GatewayClass').spec.controllerName, CONTROLLER_NAME);
    const gw = one('gateway.yaml', 'Gateway');
    assert.deepEqual([gw.metadata.namespace, gw.metadata.name], [opts.gateway.namespace, opts.gateway.name]);
    assert.equal(gw.spec.gatewayClassName, one('gateway.yaml', 'GatewayClass').metadata.name);
  });

  it('grants the controller read access to everything it watches and write access to the status it reports', () => {
    const rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = one('rbac.yaml', 'ClusterRole').rules;
    const allows = (group: string, resource: string, verb: string) => rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb));
    for (const w of WATCHED) {
      const group = w.apiVersion.includes('/') ? w.apiVersion.slice(0, w.apiVersion.indexOf('/')) : '';
      const resource = w.path.slice(w.path.lastIndexOf('/') + 1);
      for (const verb of ['list', 'watch']) assert.ok(allows(group, resource, verb), `${verb} ${group}/${resource}`);
    }
    for (const status of ['gatewayclasses/status', 'gateways/status', 'httproutes/status']) assert.ok(allows('gateway.networking.k8s.io', status, 'patch'), status);
    assert.ok(allows('gateway.networking.k8s.io', 'gateways', 'patch'), 'the Gateway finalizer');
    const binding = one('rbac.yaml', 'ClusterRoleBinding');
    const account = one('rbac.yaml', 'ServiceAccount');
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: opts.gateway.namespace }]);
  });

  it('lets the replicas elect a leader on one Lease in their namespace, and never get a Secret by name', () => {
    const role = one('rbac.yaml', 'Role');
    const leaseVerbs = (verb: string, name?: string) =>
      role.rules.some((r: { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] }) =>
        r.apiGroups.includes('coordination.k8s.io') && r.resources.includes('leases') && r.verbs.includes(verb) && (name === undefined ? !r.resourceNames : r.resourceNames?.includes(name) === true));
    for (const verb of ['get', 'update']) assert.ok(leaseVerbs(verb, LEADER_LEASE_NAME), `${verb} lease ${LEADER_LEASE_NAME}`);
    assert.ok(leaseVerbs('create'), 'create the Lease the first time');
    assert.ok(!leaseVerbs('get') && !leaseVerbs('update'), 'no other Lease is readable or writable');
    const binding = one('rbac.yaml', 'RoleBinding');
    assert.deepEqual([binding.roleRef.kind, binding.roleRef.name], ['Role', role.metadata.name]);
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: one('rbac.yaml', 'ServiceAccount').metadata.name, namespace: opts.gateway.namespace }]);
    // Secrets are listed and watched by field selector, one by one; nothing reads one by GET.
    const rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] = one('rbac.yaml', 'ClusterRole').rules;
    assert.ok(!rules.some((r) => r.apiGroups.includes('') && r.resources.includes('secrets') && r.verbs.includes('get')));
  });

  it('runs `zenokube ingress --kube` as a non-root Deployment behind a LoadBalancer on the listener port', () => {
    const deployment = one('deployment.yaml', 'Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    assert.deepEqual(container.args.slice(0, 2), ['ingress', '--kube']);
    assert.equal(container.args[container.args.indexOf('--port-offset') + 1], String(INGRESS_PORT_OFFSET));
    assert.equal(pod.serviceAccountName, one('rbac.yaml', 'ServiceAccount').metadata.name);
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    // The listeners' inner servers make their unix sockets under the temporary directory.
    const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === tmpdir());
    assert.ok(tmp && !tmp.readOnly, `${tmpdir()} is writable`);
    assert.ok(pod.volumes.find((v: { name: string }) => v.name === tmp.name).emptyDir);
    const http = container.ports.find((p: { name: string }) => p.name === 'http');
    assert.equal(http.containerPort, HTTP_LISTENER_PORT + INGRESS_PORT_OFFSET, 'where --port-offset binds the listener');
    assert.ok(container.args.includes(`0.0.0.0:${container.ports.find((p: { name: string }) => p.name === 'admin').containerPort}`), 'probes reach the admin port');
    const service = one('deployment.yaml', 'Service');
    assert.equal(service.spec.type, 'LoadBalancer');
    assert.deepEqual(service.spec.ports.map((p: { port: number; targetPort: string }) => [p.port, p.targetPort]), [[HTTP_LISTENER_PORT, 'http']]);
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(deployment.spec.template.metadata.labels[k], v);
  });
});

/**
 * What Knative Serving creates for a Knative Service `name`: a Kubernetes Service of the same name,
 * type ExternalName, pointing at the networking layer's cluster-local gateway, which selects the
 * revision by Host (hence the generated URLRewrite hostname).
 * @see https://github.com/knative/serving/blob/main/pkg/reconciler/route/resources/service.go
 */
function knativePlaceholder(name: string): Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.namespace },
    spec: { type: 'ExternalName', externalName: 'knative-local-gateway.istio-system.svc.cluster.local', ports: [{ name: 'http2', port: 80, targetPort: 80 }] },
  };
}

describe('the generated HTTPRoutes in a cluster with Knative', () => {
  function clusterSet(): ResourceSet {
    const set = emptyResourceSet();
    set.gateways.push(one('gateway.yaml', 'Gateway') as Gateway);
    set.namespaces.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: opts.namespace, labels: { 'kubernetes.io/metadata.name': opts.namespace } } });
    for (const [file, docs] of objects) {
      if (!file.startsWith('functions/')) continue;
      for (const doc of docs) {
        // kustomize gives every object of knative/kustomization.yaml its namespace.
        if (doc.kind === 'HTTPRoute') set.routes.push({ ...(doc as unknown as HTTPRoute), metadata: { ...(doc as unknown as HTTPRoute).metadata, namespace: opts.namespace } });
        if (doc.apiVersion === 'serving.knative.dev/v1' && doc.kind === 'Service') set.services.push(knativePlaceholder((doc.metadata as { name: string }).name));
        // A long-running function's own ClusterIP Service (manifests/workload.ts).
        if (doc.apiVersion === 'v1' && doc.kind === 'Service') set.services.push({ ...(doc as unknown as Service), metadata: { ...(doc as unknown as Service).metadata, namespace: opts.namespace } });
      }
    }
    return set;
  }

  it('attach to the generated Gateway and resolve every backendRef to the Service of the function', () => {
    const set = clusterSet();
    assert.ok(set.routes.length > 0);
    const config = compile(set, { gatewayClassNames: [one('gateway.yaml', 'GatewayClass').metadata.name] });
    assert.deepEqual(statusProblems(config.status), []);
    for (const route of set.routes) {
      const conditions = config.status.routes.get(`${opts.namespace}/${route.metadata.name}`)!.parents[0]!.conditions;
      assert.deepEqual(conditions.map((c) => `${c.type}=${c.status}`).sort(), ['Accepted=True', 'ResolvedRefs=True'], route.metadata.name);
    }
    const hosts = config.gateways[0]!.ports.get(HTTP_LISTENER_PORT)!.hosts;
    const match = matchRequest(hosts, { host: 'zenokube.example', path: '/auth/acme/token', query: '', method: 'POST', header: () => undefined })!;
    assert.equal(match.rule.backends[0]!.key, `${opts.namespace}/auth-token:80`);
    assert.deepEqual(match.rule.backends[0]!.endpoints, [{ host: 'knative-local-gateway.istio-system.svc.cluster.local', port: 80 }]);
    assert.equal(match.rule.rewrite?.hostname, `auth-token.${opts.namespace}.svc.cluster.local`);
    assert.equal(matchRequest(hosts, { host: 'zenokube.example', path: '/auth/acme/token', query: '', method: 'GET', header: () => undefined }), undefined);
  });

  it('are refused by the Gateway from any other namespace', () => {
    const set = clusterSet();
    set.routes = set.routes.map((r) => ({ ...r, metadata: { ...r.metadata, namespace: 'elsewhere' } }));
    const config = compile(set);
    const accepted = config.status.routes.get(`elsewhere/${set.routes[0]!.metadata.name}`)!.parents[0]!.conditions.find((c) => c.type === 'Accepted')!;
    assert.equal(accepted.status, 'False');
  });
});
