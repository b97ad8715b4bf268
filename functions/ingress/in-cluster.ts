// The ingress as a long-running process in a cluster: configuration from the Kubernetes API
// (controller.ts), the same proxy, metrics and admin port as the directory mode. Every replica
// routes; the one holding the Lease in the pod's namespace writes status.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '#shared/log/index';
import { addressesPolicy, createIngress } from './runtime.js';
import type { Ingress } from './runtime.js';
import { createObserver } from './proxy/observe.js';
import { certificateExpiryGauge } from './cert-expiry.js';
import { createExtAuth } from './ext-auth/decider.js';
import { startAdmin } from './admin.js';
import { statusJson } from './status-report.js';
import { startKubeController } from './controller/controller.js';
import { LEADER_LEASE_NAME } from './controller/watched.js';

interface InClusterOptions {
  log: Logger;
  portOffset: number;
  admin: { host: string; port: number } | undefined;
  accessLogSample: number;
  /** ZENO_CLIENT_CERT_KEY: TLS client certificates are forwarded with a proof made with it. */
  clientCertKey?: Buffer | undefined;
  /** A kubeconfig file; in-cluster service account (or $KUBECONFIG) when absent. */
  kubeconfig: string | undefined;
  /** Relist and re-sync this often (seconds); the controller's default when absent. */
  resyncSeconds?: number;
}

interface InClusterIngress {
  /** The engine, for a tunnel agent that serves its streams as a listener's connections. */
  readonly ingress: Ingress;
  close(): Promise<void>;
}

export async function startInCluster(opts: InClusterOptions): Promise<InClusterIngress> {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  // In a pod the service account's namespace (client-node puts it in the in-cluster context).
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zeno_ingress_process_' });
  const observer = createObserver({
    registry,
    accessLog: (line) => process.stdout.write(line + '\n'),
    sampleRate: opts.accessLogSample,
    circuitState: (endpoint) => ingress.context.breakers.state(endpoint),
  });
  const ingress = createIngress({
    bind: addressesPolicy(opts.portOffset),
    observer,
    extAuth: createExtAuth(),
    clientCertKey: opts.clientCertKey,
    onProblem: (message) => opts.log.warn('ingress problem', { problem: message }),
  });
  ingress.context.breakers.onChange = (key, state) => observer.circuitChanged(key, state);
  const controller = await startKubeController({
    kc,
    ingress,
    log: opts.log,
    resyncMs: opts.resyncSeconds === undefined ? undefined : opts.resyncSeconds * 1000,
    // The pod name is the host name; the suffix tells a restarted process from its predecessor.
    leaderElection: { namespace, name: LEADER_LEASE_NAME, identity: `${hostname()}_${randomUUID()}` },
  });
  new Gauge({
    name: 'zeno_ingress_leader',
    help: '1 while this replica holds the leader Lease and writes status, else 0',
    registers: [registry],
    collect() {
      this.set(controller.isLeader() ? 1 : 0);
    },
  });
  certificateExpiryGauge(registry, () => controller.current());
  let draining = false;
  const admin = opts.admin
    ? await startAdmin({ ...opts.admin, registry, status: () => { const c = controller.current(); return c ? statusJson(c.status) : {}; }, ready: () => !draining && controller.current() !== undefined })
    : undefined;
  return {
    ingress,
    /**
     * Graceful drain (SIGTERM, after the pod's preStop pause): the listeners stop accepting,
     * in-flight exchanges finish (or are cut at the drain's end); the admin port answers
     * not-ready meanwhile and closes last.
     */
    async close() {
      draining = true;
      await controller.stop();
      await ingress.close();
      await admin?.close();
    },
  };
}
