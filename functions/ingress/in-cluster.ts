// The ingress as a long-running process in a cluster: configuration from the Kubernetes API
// (controller.ts), the same proxy, metrics and admin port as the directory mode.
import { KubeConfig } from '@kubernetes/client-node';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '#shared/log/index';
import { addressesPolicy, createIngress } from './runtime.js';
import { createObserver } from './proxy/observe.js';
import { certificateExpiryGauge } from './cert-expiry.js';
import { createExtAuth } from './ext-auth/decider.js';
import { startAdmin } from './admin.js';
import { statusJson } from './status-report.js';
import { startKubeController } from './controller/controller.js';

interface InClusterOptions {
  log: Logger;
  portOffset: number;
  admin: { host: string; port: number } | undefined;
  accessLogSample: number;
  /** A kubeconfig file; in-cluster service account (or $KUBECONFIG) when absent. */
  kubeconfig: string | undefined;
}

export async function startInCluster(opts: InClusterOptions): Promise<{ close(): Promise<void> }> {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
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
    onProblem: (message) => opts.log.warn('ingress problem', { problem: message }),
  });
  ingress.context.breakers.onChange = (key, state) => observer.circuitChanged(key, state);
  const controller = await startKubeController({ kc, ingress, log: opts.log });
  certificateExpiryGauge(registry, () => controller.current());
  const admin = opts.admin
    ? await startAdmin({ ...opts.admin, registry, status: () => { const c = controller.current(); return c ? statusJson(c.status) : {}; }, ready: () => controller.current() !== undefined })
    : undefined;
  return {
    async close() {
      await controller.stop();
      await admin?.close();
      await ingress.close();
    },
  };
}
