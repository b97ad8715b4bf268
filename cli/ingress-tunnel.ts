// `zenokube ingress tunnel edge --config FILE`: the edge agents dial out to.
// `zenokube ingress tunnel agent --config DIR --tunnel FILE [--port-offset N]`: the ingress on a
// directory of manifests, with an agent serving the edge's streams as one of its gateway listeners.
// `zenokube ingress tunnel status [--admin HOST:PORT]`: the links of a running edge or agent.
import { createLogger } from '#shared/log/index';

function usage(): string {
  return (
    'usage: zenokube ingress tunnel edge --config FILE\n' +
    '       zenokube ingress tunnel agent --config DIR --tunnel FILE [--port-offset N] [--admin HOST:PORT|off]\n' +
    '       zenokube ingress tunnel status [--admin HOST:PORT]   (the admin address of the edge or agent tunnel file; default 127.0.0.1:9903)\n'
  );
}

function options(args: string[]): Record<string, string> | string {
  const opts: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) return `unexpected argument ${a}`;
    const eq = a.indexOf('=');
    if (eq > 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
    else opts[a.slice(2)] = args[++i] ?? '';
  }
  return opts;
}

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const opts = options(rest);
  if (typeof opts === 'string' || !['edge', 'agent', 'status'].includes(command ?? '')) {
    process.stderr.write(`${typeof opts === 'string' ? `${opts}\n` : ''}${usage()}`);
    return 2;
  }
  const allowed = { edge: ['config'], agent: ['config', 'tunnel', 'port-offset', 'admin'], status: ['admin'] }[command as 'edge' | 'agent' | 'status'];
  const problems = Object.keys(opts).filter((k) => !allowed.includes(k)).map((k) => `unknown option --${k}`);
  if (command !== 'status' && !opts.config) problems.push('--config is required');
  if (command === 'agent' && !opts.tunnel) problems.push('--tunnel FILE is required');
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n${usage()}`);
    return 2;
  }
  if (command === 'status') return status(opts.admin ?? '127.0.0.1:9903');
  const log = createLogger({ base: { component: `tunnel-${command}` } });
  const { runAgent, runEdge, ConfigError } = await import('#functions/ingress/tunnel/run');
  try {
    if (command === 'edge') {
      const running = await runEdge(opts.config!, log);
      await untilSignal();
      log.info('tunnel edge stopping');
      await running.close();
      return 0;
    }
    const { startStandalone } = await import('#functions/ingress/standalone');
    const admin = opts.admin ?? '127.0.0.1:9901';
    const m = /^(.+):(\d{1,5})$/.exec(admin);
    const ingress = await startStandalone({ dir: opts.config!, portOffset: Number(opts['port-offset'] ?? 0), log, admin: m ? { host: m[1]!, port: Number(m[2]) } : undefined, accessLogSample: 1 });
    const running = await runAgent(opts.tunnel!, ingress.ingress, log);
    await untilSignal();
    log.info('tunnel agent stopping: GoAway, then draining in-flight requests');
    await running.close();
    await ingress.close();
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

interface StatusBody {
  side?: string;
  links?: { edge: string; state: string; sessions: number; streams: number; rttMs?: number; lastError?: string }[];
  sessions?: { clientId: string; hostnames: string[]; remote: string; draining: boolean; streams: number; rttMs?: number }[];
}

async function status(admin: string): Promise<number> {
  let body: StatusBody;
  try {
    const res = await fetch(`http://${admin}/status`, { signal: AbortSignal.timeout(5_000) });
    body = (await res.json()) as StatusBody;
  } catch (err) {
    process.stderr.write(`cannot read the tunnel status at ${admin}: ${(err as Error).message}\n`);
    return 1;
  }
  const rtt = (ms: number | undefined) => (ms === undefined ? '-' : `${ms.toFixed(1)}ms`);
  if (body.side === 'agent') {
    process.stdout.write('EDGE\tSTATE\tSESSIONS\tSTREAMS\tRTT\tLAST ERROR\n');
    for (const l of body.links ?? []) process.stdout.write(`${l.edge}\t${l.state}\t${l.sessions}\t${l.streams}\t${rtt(l.rttMs)}\t${l.lastError ?? '-'}\n`);
    return (body.links ?? []).some((l) => l.state === 'connected') ? 0 : 1;
  }
  process.stdout.write('CLIENT\tREMOTE\tSTATE\tSTREAMS\tRTT\tHOSTNAMES\n');
  for (const s of body.sessions ?? []) process.stdout.write(`${s.clientId}\t${s.remote}\t${s.draining ? 'draining' : 'live'}\t${s.streams}\t${rtt(s.rttMs)}\t${s.hostnames.join(',')}\n`);
  return 0;
}

function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
