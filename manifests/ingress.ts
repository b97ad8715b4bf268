// ZenoIngress in a cluster: the GatewayClass it implements, the Gateway the function HTTPRoutes
// attach to, and the proxy itself (`zenokube ingress --kube`) with the API access it needs.
// The core objects are typed with client-node's models so that a misspelt field fails to compile.
import type { V1ClusterRole, V1ClusterRoleBinding, V1Deployment, V1Namespace, V1PodDisruptionBudget, V1Role, V1RoleBinding, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { CONTROLLER_NAME, LEADER_LEASE_NAME } from '#functions/ingress/index';
import { PROXY_NODE_FLAGS, PROXY_NODE_OPTIONS } from '#functions/ingress/heap';
import { platformLabels } from './names.js';
import type { ManifestOptions } from './options.js';

const INGRESS_NAME = 'zenokube-ingress';
/** The labels that select the proxy's pods (Deployment, Service, budget; the unsealer's NetworkPolicy). */
export const INGRESS_SELECTOR: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': INGRESS_NAME, 'app.kubernetes.io/component': 'ingress' };
/** Listener ports are bound at port + this offset: a non-root process cannot bind 80. */
export const INGRESS_PORT_OFFSET = 8000;
export const HTTP_LISTENER_PORT = 80;
const ADMIN_PORT = 9901;
/** Seconds a terminating proxy keeps accepting while it leaves the load balancer's rotation. */
const PRE_STOP_SLEEP_SECONDS = 5;
/**
 * The image's entrypoint script (the Dockerfile's ENTRYPOINT is `node` and this script): the
 * Deployment runs it through `command` so that node gets the proxy's heap flags that NODE_OPTIONS
 * cannot carry.
 */
const IMAGE_ENTRYPOINT = 'dist/fn/zenokube.mjs';

const GATEWAY_API = 'gateway.networking.k8s.io';

/**
 * `gateway.networking.k8s.io/v1` GatewayClass handled by ZenoIngress (it marks it Accepted).
 * @see https://gateway-api.sigs.k8s.io/api-types/gatewayclass/
 */
function gatewayClass(opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: `${GATEWAY_API}/v1`,
    kind: 'GatewayClass',
    metadata: { name: opts.gateway.name, labels: platformLabels('ingress', opts.version) },
    spec: { controllerName: CONTROLLER_NAME, description: 'ZenoIngress, the Zenokube HTTPRoute proxy' },
  };
}

/**
 * `gateway.networking.k8s.io/v1` Gateway with one HTTP listener that admits HTTPRoutes from the
 * functions' namespace only. No HTTPS listener: it needs a certificate Secret for a hostname only
 * the operator knows; an overlay adds one (`protocol: HTTPS`, `port: 443`, `tls.certificateRefs`).
 */
export function gateway(opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: `${GATEWAY_API}/v1`,
    kind: 'Gateway',
    metadata: { name: opts.gateway.name, namespace: opts.gateway.namespace, labels: platformLabels('ingress', opts.version) },
    spec: {
      gatewayClassName: opts.gateway.name,
      listeners: [
        {
          name: 'http',
          protocol: 'HTTP',
          port: HTTP_LISTENER_PORT,
          allowedRoutes: {
            namespaces: { from: 'Selector', selector: { matchLabels: { 'kubernetes.io/metadata.name': opts.namespace } } },
            kinds: [{ group: GATEWAY_API, kind: 'HTTPRoute' }],
          },
        },
      ],
    },
  };
}

function namespace(opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: opts.gateway.namespace, labels: platformLabels('ingress', opts.version) },
  } satisfies V1Namespace;
}

function serviceAccount(opts: ManifestOptions): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: INGRESS_NAME, labels: platformLabels('ingress', opts.version) } } satisfies V1ServiceAccount;
}

/**
 * What the controller reads (functions/ingress/controller/watched.ts: list and watch, cluster-wide)
 * and writes (status subresources; the Gateway's finalizer). Secrets: list and watch only, and the
 * controller only ever lists and watches them one by one, by `fieldSelector=metadata.name=` in the
 * Secret's namespace, for the Secrets its Gateways' listeners (and ExtAuthFilters) name. RBAC
 * cannot narrow the grant further: `resourceNames` would have to name every certificate Secret
 * in advance, and a label selector is not an authorization attribute.
 */
function clusterRole(opts: ManifestOptions): Record<string, unknown> {
  const read = ['get', 'list', 'watch'];
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: INGRESS_NAME, labels: platformLabels('ingress', opts.version) },
    rules: [
      { apiGroups: [GATEWAY_API], resources: ['gatewayclasses', 'gateways', 'httproutes', 'grpcroutes', 'tlsroutes', 'backendtlspolicies', 'referencegrants'], verbs: read },
      { apiGroups: [GATEWAY_API], resources: ['gateways'], verbs: ['patch', 'update'] },
      { apiGroups: [GATEWAY_API], resources: ['gatewayclasses/status', 'gateways/status', 'httproutes/status', 'grpcroutes/status', 'tlsroutes/status', 'backendtlspolicies/status'], verbs: ['get', 'patch', 'update'] },
      { apiGroups: [''], resources: ['services', 'namespaces'], verbs: read },
      { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: ['list', 'watch'] },
      { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: read },
      { apiGroups: ['ingress.zenokube.io'], resources: ['extauthfilters'], verbs: read },
    ],
  } satisfies V1ClusterRole;
}

/**
 * The leader election Lease, in the proxy's own namespace: create it once, then read and update
 * that one Lease only (`create` cannot be limited by name: the object does not exist yet).
 */
function leaseRole(opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: `${INGRESS_NAME}-leader-election`, labels: platformLabels('ingress', opts.version) },
    rules: [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: [LEADER_LEASE_NAME], verbs: ['get', 'update'] },
    ],
  } satisfies V1Role;
}

function leaseRoleBinding(opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${INGRESS_NAME}-leader-election`, labels: platformLabels('ingress', opts.version) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${INGRESS_NAME}-leader-election` },
    subjects: [{ kind: 'ServiceAccount', name: INGRESS_NAME, namespace: opts.gateway.namespace }],
  } satisfies V1RoleBinding;
}

function clusterRoleBinding(opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: INGRESS_NAME, labels: platformLabels('ingress', opts.version) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: INGRESS_NAME },
    subjects: [{ kind: 'ServiceAccount', name: INGRESS_NAME, namespace: opts.gateway.namespace }],
  } satisfies V1ClusterRoleBinding;
}

/**
 * The proxy as a Deployment, not a Knative Service: it binds the Gateway's listener ports itself
 * and must run before the first request arrives (a Knative Service gets one port, named by
 * Knative, and may scale to zero). Two replicas: both watch and route; the one holding the
 * leader Lease writes status (docs/ingress.md, "Several replicas").
 */
function deployment(opts: ManifestOptions): Record<string, unknown> {
  const labels = platformLabels('ingress', opts.version);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: INGRESS_NAME, labels },
    spec: {
      replicas: 2,
      selector: { matchLabels: { ...INGRESS_SELECTOR } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: INGRESS_NAME,
          enableServiceLinks: false,
          // The preStop pause, then the proxy's 10 s drain of in-flight requests, with room to spare.
          terminationGracePeriodSeconds: 30,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'ingress',
              image: opts.image,
              command: ['node', ...PROXY_NODE_FLAGS, IMAGE_ENTRYPOINT],
              args: ['ingress', '--kube', '--port-offset', String(INGRESS_PORT_OFFSET), '--admin', `0.0.0.0:${ADMIN_PORT}`],
              env: [
                { name: 'NODE_OPTIONS', value: PROXY_NODE_OPTIONS },
                // The key of the client certificate proofs, shared with ZenoAuth (docs/auth.md#mutual-tls-rfc-8705).
                { name: 'ZENO_CLIENT_CERT_KEY', valueFrom: { secretKeyRef: { name: 'zeno-client-cert', key: 'key', optional: true } } },
              ],
              ports: [
                { name: 'http', containerPort: HTTP_LISTENER_PORT + INGRESS_PORT_OFFSET },
                { name: 'admin', containerPort: ADMIN_PORT },
              ],
              resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
              // Ready once the first configuration from the API server is applied.
              readinessProbe: { httpGet: { path: '/readyz', port: 'admin' }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 10, failureThreshold: 3 },
              // SIGTERM makes the proxy stop accepting at once: it first keeps serving while the
              // load balancer and the endpoint controllers take the pod out of rotation.
              lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SLEEP_SECONDS } } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              // The one writable place: the listeners' inner http servers listen on unix sockets
              // made (and unlinked at once) under the temporary directory (proxy/handed-server.ts).
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }],
        },
      },
    },
  } satisfies V1Deployment;
}

/**
 * `policy/v1` PodDisruptionBudget: a node drain never takes the last ready proxy.
 * @see https://kubernetes.io/docs/tasks/run-application/configure-pdb/
 */
function disruptionBudget(opts: ManifestOptions): Record<string, unknown> {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: INGRESS_NAME, labels: platformLabels('ingress', opts.version) },
    spec: { minAvailable: 1, selector: { matchLabels: { ...INGRESS_SELECTOR } } },
  } satisfies V1PodDisruptionBudget;
}

/**
 * The cluster's entry point: a LoadBalancer Service on the listener port. `externalTrafficPolicy:
 * Local` keeps the client's address as the connection's source, so the proxy's X-Forwarded-For
 * last hop (which ZenoAuth throttles sign-ins by) is the real client.
 */
function service(opts: ManifestOptions): Record<string, unknown> {
  const labels = platformLabels('ingress', opts.version);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: INGRESS_NAME, labels },
    spec: {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      selector: { ...INGRESS_SELECTOR },
      ports: [{ name: 'http', port: HTTP_LISTENER_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  } satisfies V1Service;
}

/**
 * The files of knative/ingress/ (path relative to it → objects). `crds` are the custom resources
 * the proxy reads (crds/ext-auth-filter.yaml), copied in because kustomize loads nothing from
 * outside its directory.
 */
export function ingressManifests(opts: ManifestOptions, crds: readonly Record<string, unknown>[]): Map<string, Record<string, unknown>[]> {
  const files = new Map<string, Record<string, unknown>[]>();
  files.set('namespace.yaml', [namespace(opts)]);
  if (crds.length > 0) files.set('crds.yaml', [...crds]);
  files.set('gateway.yaml', [gatewayClass(opts), gateway(opts)]);
  files.set('rbac.yaml', [serviceAccount(opts), clusterRole(opts), clusterRoleBinding(opts), leaseRole(opts), leaseRoleBinding(opts)]);
  files.set('deployment.yaml', [deployment(opts), disruptionBudget(opts), service(opts)]);
  return files;
}
