// The ZenoIngress process the benchmark measures: one gateway, a catch-all route plus `--routes`
// extra rules, one backend. Prints "ready <port>" once listening; SIGTERM stops it.
// Its heap sizing comes from node's command line and NODE_OPTIONS (bench/ingress.ts gives the Deployment's).
import { Registry } from 'prom-client';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import { createObserver } from '#functions/ingress/proxy/observe';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
const backendPort = Number(args.get('backend-port'));
const port = Number(args.get('port') ?? 0);
const extra = Number(args.get('routes') ?? 0);

const rules = Array.from({ length: extra }, (_, i) => `  - matches: [{ path: { type: PathPrefix, value: /r${i}/api } }]\n    backendRefs: [{ name: backend, port: 8080 }]\n`).join('');
const yaml = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: bench, namespace: bench }
spec: { gatewayClassName: z, listeners: [{ name: http, port: 80, protocol: HTTP }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all, namespace: bench }
spec:
  parentRefs: [{ name: bench }]
  rules:
${rules}  - backendRefs: [{ name: backend, port: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: backend, namespace: bench }
spec: { ports: [{ name: http, port: 8080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: backend-1, namespace: bench, labels: { kubernetes.io/service-name: backend } }
endpoints: [{ addresses: [127.0.0.1] }]
ports: [{ name: http, port: ${backendPort} }]
`;

const { set, problems } = parseManifests(yaml, 'bench');
if (problems.length > 0) throw new Error(JSON.stringify(problems));
// Production settings: metrics on, access log sampled out (the bench measures the proxy, not stdout).
const observer = createObserver({ registry: new Registry(), accessLog: undefined, sampleRate: 0 });
const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port }], observer, drainMs: 100 });
await ingress.apply(compile(set));
process.stdout.write(`ready ${ingress.address('bench/bench', 80)!.port}\n`);
process.once('SIGTERM', () => void ingress.close().then(() => process.exit(0)));
