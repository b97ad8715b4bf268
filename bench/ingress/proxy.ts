// The ZenoIngress process the benchmark measures: one gateway, a catch-all route plus `--routes`
// extra rules, one backend. Prints "ready <port>" once listening; SIGTERM stops it.
// Its heap sizing comes from node's command line and NODE_OPTIONS (bench/ingress.ts gives the Deployment's).
import { Registry } from 'prom-client';
import { compile, createIngress, parseManifests } from '#functions/ingress/index';
import { createObserver } from '#functions/ingress/proxy/observe';
import { SERVICE_PORT, backendYaml, gatewayYaml, httpRouteYaml, prefixRule, yamlStream } from '#tests/support/gateway-yaml';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
const backendPort = Number(args.get('backend-port'));
const port = Number(args.get('port') ?? 0);
const extra = Number(args.get('routes') ?? 0);

const rules = [...Array.from({ length: extra }, (_, i) => prefixRule(`/r${i}/api`, 'backend')), { backendRefs: [{ name: 'backend', port: SERVICE_PORT }] }];
const yaml = yamlStream(
  gatewayYaml({ name: 'bench', namespace: 'bench' }),
  httpRouteYaml({ name: 'all', namespace: 'bench', gateway: 'bench', rules }),
  backendYaml('backend', 'bench', backendPort),
);

const { set, problems } = parseManifests(yaml, 'bench');
if (problems.length > 0) throw new Error(JSON.stringify(problems));
// `--h2c 1`: the gateway's cleartext listener also takes HTTP/2 by prior knowledge (bench/ingress-h2.ts).
if (args.get('h2c') === '1') set.gateways[0]!.metadata.annotations = { 'ingress.zenokube.io/h2c': 'true' };
// Production settings: metrics on, access log sampled out (the bench measures the proxy, not stdout).
const observer = createObserver({ registry: new Registry(), accessLog: undefined, sampleRate: 0 });
const ingress = createIngress({ bind: () => [{ host: '127.0.0.1', port }], observer, drainMs: 100 });
await ingress.apply(compile(set));
process.stdout.write(`ready ${ingress.address('bench/bench', 80)!.port}\n`);
process.once('SIGTERM', () => void ingress.close().then(() => process.exit(0)));
