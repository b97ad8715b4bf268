// The ingress as one long-running process on a directory of manifests: load, compile, serve,
// watch and swap; problems become log lines and /status conditions, never a crash.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '#shared/log/index';
import type { CompiledConfig } from './engine/compile.js';
import { compile } from './engine/compile.js';
import type { BindPolicy, Ingress } from './runtime.js';
import { addressesPolicy, createIngress } from './runtime.js';
import { readDirectory, watchDirectory } from './source/directory.js';
import { createObserver } from './proxy/observe.js';
import { certificateExpiryGauge } from './cert-expiry.js';
import { startAdmin } from './admin.js';
import type { AdminServer } from './admin.js';
import { statusJson, statusProblems } from './status-report.js';
import { createExtAuth } from './ext-auth/decider.js';

interface StandaloneOptions {
  dir: string;
  portOffset: number;
  log: Logger;
  /** Admin listener (metrics, status); none when undefined. */
  admin: { host: string; port: number } | undefined;
  /** Access-log sampling, 0..1. */
  accessLogSample: number;
  /** ZENO_CLIENT_CERT_KEY: TLS client certificates are forwarded with a proof made with it. */
  clientCertKey?: Buffer | undefined;
  accessLog?: (line: string) => void;
  bind?: BindPolicy;
  watch?: boolean;
  gatewayClassNames?: string[];
}

export interface StandaloneIngress {
  readonly ingress: Ingress;
  readonly admin: AdminServer | undefined;
  readonly registry: Registry;
  current(): CompiledConfig | undefined;
  /** Re-reads the directory and applies it. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

export async function startStandalone(opts: StandaloneOptions): Promise<StandaloneIngress> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'zeno_ingress_process_' });
  const observer = createObserver({
    registry,
    accessLog: opts.accessLog ?? ((line) => process.stdout.write(line + '\n')),
    sampleRate: opts.accessLogSample,
    circuitState: (endpoint) => ingress.context.breakers.state(endpoint),
  });
  const ingress = createIngress({
    bind: opts.bind ?? addressesPolicy(opts.portOffset),
    observer,
    extAuth: createExtAuth(),
    clientCertKey: opts.clientCertKey,
    onProblem: (message) => opts.log.warn('ingress problem', { problem: message }),
  });
  ingress.context.breakers.onChange = (key, state) => observer.circuitChanged(key, state);
  let config: CompiledConfig | undefined;
  let lastProblems = new Set<string>();

  const reload = async () => {
    const { set, problems } = readDirectory(opts.dir);
    const next = compile(set, { gatewayClassNames: opts.gatewayClassNames });
    await ingress.apply(next);
    config = next;
    const lines = [...problems.map((p) => `${p.source}: ${p.message}`), ...statusProblems(next.status)];
    const fresh = new Set(lines);
    for (const line of lines) if (!lastProblems.has(line)) opts.log.warn('configuration problem', { problem: line });
    lastProblems = fresh;
    opts.log.info('configuration applied', { gateways: next.gateways.length, routes: set.routes.length, problems: lines.length });
  };
  let pending: Promise<void> = Promise.resolve();
  const queueReload = () => {
    pending = pending.then(reload).catch((err: unknown) => opts.log.error('reload failed; previous configuration kept', { err }));
    return pending;
  };
  await queueReload();
  const stopWatch = opts.watch === false ? undefined : watchDirectory(opts.dir, () => void queueReload());
  certificateExpiryGauge(registry, () => config);
  let draining = false;
  const admin = opts.admin
    ? await startAdmin({ ...opts.admin, registry, status: () => (config ? statusJson(config.status) : {}), ready: () => !draining && config !== undefined })
    : undefined;
  return {
    ingress,
    admin,
    registry,
    current: () => config,
    reload: queueReload,
    /**
     * Graceful drain (SIGTERM): the listeners stop accepting, in-flight exchanges finish (or are cut
     * at the drain's end), then the process may exit. The admin port answers not-ready meanwhile.
     */
    async close() {
      draining = true;
      stopWatch?.();
      await pending;
      await ingress.close();
      await admin?.close();
    },
  };
}
