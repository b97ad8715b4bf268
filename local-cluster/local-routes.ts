// Routes added to the running stack from outside it: `zenokube apply` (ZenoScope's local mode)
// writes Gateway API manifests (HTTPRoutes, the Services and EndpointSlices they point to, their
// Namespaces) into `<dir>/routes/`; the stack watches that directory, serves them beside its own
// routes, and writes what ZenoIngress reported on them to `<dir>/status.json`, tagged with a digest
// of the files it read, so the writer can tell when its change has been taken in.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledConfig, Ingress, ResourceSet } from '#functions/ingress/index';
import { compile, readDirectory, statusJson, statusProblems, watchDirectory } from '#functions/ingress/index';
import type { Logger } from '#shared/log/index';

/** The manifests' directory and the status file below the stack's ingress directory. */
export const routesDirOf = (dir: string) => join(dir, 'routes');
export const routesStatusOf = (dir: string) => join(dir, 'status.json');

/** A digest of the manifests directly in `routesDir` (names and contents), as both sides compute it. */
export function routesDigest(routesDir: string): string {
  const h = createHash('sha256');
  let names: string[] = [];
  try {
    names = readdirSync(routesDir).filter((n) => /\.(ya?ml|json)$/i.test(n) && !n.startsWith('.')).sort();
  } catch {
    // No directory yet: the digest of nothing.
  }
  for (const n of names) {
    h.update(n).update('\0');
    try {
      h.update(readFileSync(join(routesDir, n)));
    } catch {
      // Removed while listed: its name alone.
    }
    h.update('\0');
  }
  return h.digest('hex');
}

/** The stack's own set plus what the directory adds: namespaces, routes and backends, never a Gateway. */
function merged(base: ResourceSet, extra: ResourceSet): ResourceSet {
  return {
    ...base,
    // One machine, one developer: the local Gateway admits the routes of every namespace, as a
    // cluster's admits those of the namespaces its listener selects.
    gateways: base.gateways.map((g) => (g.spec ? { ...g, spec: { ...g.spec, listeners: g.spec.listeners.map((l) => ({ ...l, allowedRoutes: { ...l.allowedRoutes, namespaces: { from: 'All' as const } } })) } } : g)),
    namespaces: [...base.namespaces, ...extra.namespaces.filter((n) => !base.namespaces.some((b) => b.metadata.name === n.metadata.name))],
    routes: [...base.routes, ...extra.routes],
    services: [...base.services, ...extra.services],
    endpointSlices: [...base.endpointSlices, ...extra.endpointSlices],
  };
}

/** Serves `<dir>/routes/` beside `base` until stopped; a bad file is a warning, never a stop. */
export function serveLocalRoutes(opts: { dir: string; base: ResourceSet; ingress: Ingress; log: Logger }): { ready: Promise<void>; stop(): void } {
  const routesDir = routesDirOf(opts.dir);
  mkdirSync(routesDir, { recursive: true });
  let last = new Set<string>();
  const reload = async () => {
    const digest = routesDigest(routesDir);
    const { set, problems } = readDirectory(routesDir);
    const config: CompiledConfig = compile(merged(opts.base, set));
    await opts.ingress.apply(config);
    const lines = [...problems.map((p) => `${p.source}: ${p.message}`), ...statusProblems(config.status)];
    for (const line of lines) if (!last.has(line)) opts.log.warn('local route problem', { problem: line });
    last = new Set(lines);
    const file = routesStatusOf(opts.dir);
    writeFileSync(`${file}.tmp`, JSON.stringify({ digest, ...statusJson(config.status) }));
    renameSync(`${file}.tmp`, file);
  };
  let pending: Promise<void> = Promise.resolve();
  const queue = () => (pending = pending.then(reload).catch((err: unknown) => opts.log.error('local routes reload failed; the previous configuration is kept', { err })));
  const ready = queue();
  const stopWatch = watchDirectory(routesDir, () => void queue());
  return { ready, stop: stopWatch };
}
