// `zenokube ingress --config DIR [--port-offset N] [--admin HOST:PORT] [--access-log-sample R]`:
// runs ZenoIngress alone on a directory of Gateway API manifests, reloading on change.
// `zenokube ingress --kube [--kubeconfig FILE]` takes its configuration from the Kubernetes API.
// `--tunnel FILE` runs a tunnel agent beside either (docs/tunnel.md): the site's ingress dials out
// to the edges the file names and serves what they send as a connection of a gateway listener.
import { statSync } from 'node:fs';
import { createLogger } from '#shared/log/index';
import { missingProxyFlags, PROXY_NODE_FLAGS, PROXY_NODE_OPTIONS } from '#functions/ingress/heap';
import type { Ingress } from '#functions/ingress/index';

function usage(): string {
  return (
    'usage: zenokube ingress (--config DIR | --kube [--kubeconfig FILE] [--resync-seconds N]) [--port-offset N] [--admin HOST:PORT|off] [--access-log-sample 0..1] [--gateway-class NAME] [--tunnel FILE]\n' +
    `  run the proxy with its heap sizing, as the Deployment does: NODE_OPTIONS=${PROXY_NODE_OPTIONS} node ${PROXY_NODE_FLAGS.join(' ')} <zenokube> ingress ...\n`
  );
}

export async function main(args: string[]): Promise<number> {
  if (args[0] === 'tunnel') return (await import('./ingress-tunnel.js')).main(args.slice(1));
  const opts: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      process.stderr.write(`unexpected argument ${a}\n${usage()}`);
      return 2;
    }
    const eq = a.indexOf('=');
    if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
    else if (a === '--kube') opts.kube = 'true';
    else opts[a.slice(2)] = args[++i] ?? '';
  }
  const known = new Set(['config', 'kube', 'kubeconfig', 'port-offset', 'admin', 'access-log-sample', 'gateway-class', 'resync-seconds', 'tunnel']);
  const unknown = Object.keys(opts).filter((k) => !known.has(k));
  const offset = Number(opts['port-offset'] ?? 0);
  const sample = Number(opts['access-log-sample'] ?? 1);
  const admin = opts.admin ?? '127.0.0.1:9901';
  const resync = opts['resync-seconds'] === undefined ? undefined : Number(opts['resync-seconds']);
  const adminMatch = /^(.+):(\d{1,5})$/.exec(admin);
  const problems: string[] = [];
  if (unknown.length > 0) problems.push(`unknown option(s): ${unknown.map((k) => `--${k}`).join(', ')}`);
  if (!opts.config === !opts.kube) problems.push('--config DIR is required (or --kube for the Kubernetes API)');
  else if (opts.config && !isDirectory(opts.config)) problems.push(`--config ${opts.config}: no such directory`);
  if (!Number.isInteger(offset) || offset < 0 || offset > 60000) problems.push('--port-offset must be an integer 0..60000');
  if (!(sample >= 0 && sample <= 1)) problems.push('--access-log-sample must be between 0 and 1');
  if (resync !== undefined && !(Number.isInteger(resync) && resync >= 0 && resync <= 86400)) problems.push('--resync-seconds must be an integer 0..86400 (0: never)');
  if (admin !== 'off' && !adminMatch) problems.push('--admin must be HOST:PORT or off');
  if (opts.tunnel !== undefined && !isFile(opts.tunnel)) problems.push(`--tunnel ${opts.tunnel}: no such file`);
  // The HMAC key shared with the services that trust forwarded client certificates (ZenoAuth).
  const certKeyText = process.env.ZENO_CLIENT_CERT_KEY;
  const clientCertKey = certKeyText ? Buffer.from(certKeyText, 'base64') : undefined;
  if (clientCertKey && clientCertKey.length < 32) problems.push('ZENO_CLIENT_CERT_KEY must be base64 of at least 32 bytes');
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n${usage()}`);
    return 2;
  }
  const log = createLogger({ base: { component: 'ingress' } });
  // V8 reads these flags only at start: a process started without them runs with V8's defaults.
  const missing = missingProxyFlags();
  if (missing.length > 0) log.info('ingress heap flags not given; V8 defaults apply', { missing, how: `NODE_OPTIONS=${PROXY_NODE_OPTIONS} node ${PROXY_NODE_FLAGS.join(' ')} <zenokube> ingress ...` });
  const adminAddr = admin === 'off' || !adminMatch ? undefined : { host: adminMatch[1]!, port: Number(adminMatch[2]) };
  let running: { ingress: Ingress; close(): Promise<void> };
  if (opts.kube) {
    const { startInCluster } = await import('#functions/ingress/in-cluster');
    running = await startInCluster({ log, portOffset: offset, admin: adminAddr, accessLogSample: sample, kubeconfig: opts.kubeconfig, resyncSeconds: resync, clientCertKey });
    log.info('ingress running', { source: 'kubernetes', portOffset: offset });
  } else {
    const { startStandalone } = await import('#functions/ingress/standalone');
    const standalone = await startStandalone({
      dir: opts.config!,
      portOffset: offset,
      log,
      admin: adminAddr,
      accessLogSample: sample,
      clientCertKey,
      gatewayClassNames: opts['gateway-class'] ? opts['gateway-class'].split(',') : undefined,
    });
    running = standalone;
    log.info('ingress running', { config: opts.config, portOffset: offset, admin: standalone.admin ? `${adminMatch![1]}:${standalone.admin.port}` : 'off' });
  }
  let tunnel: { close(): Promise<void> } | undefined;
  if (opts.tunnel !== undefined) {
    const { runAgent, ConfigError } = await import('#functions/ingress/tunnel/run');
    try {
      tunnel = await runAgent(opts.tunnel, running.ingress, log);
    } catch (err) {
      await running.close();
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
  }
  await untilSignal();
  // The tunnel first: GoAway, so the edges open no new stream, then the engine drains what is in flight.
  if (tunnel) {
    log.info('tunnel agent stopping: GoAway, then draining in-flight requests');
    await tunnel.close();
  }
  log.info('ingress stopping: draining in-flight requests');
  await running.close();
  return 0;
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}

function isDirectory(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
}

function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
