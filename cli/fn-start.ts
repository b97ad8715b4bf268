// The start of a function's production bundle: its database connection opens first, then the rest
// of the platform (Hono, the HTTP server, hosting, events) loads while the connection is set up.
import type { FunctionDeclaration } from '#shared/function/define';
import { bootPlatform } from '#shared/function/platform';

/**
 * Serves `decl` as `zenokube fn` does. Only the configuration, the logger and the database driver
 * are loaded before the first connection starts; the function's app and everything else load
 * (through the dynamic import of `./fn.js`) while the server forks its backend, authenticates and
 * answers the first query. Loaded together, the two would share this thread and the connection
 * would open only once both had loaded.
 */
export async function startFunction(decl: FunctionDeclaration): Promise<void> {
  let connecting!: () => void;
  const underWay = new Promise<void>((resolve) => (connecting = resolve));
  const booting = bootPlatform(process.env, connecting);
  // A failed boot (an invalid configuration, an unreachable driver) holds nothing back: it
  // surfaces where runFunction awaits the same promise.
  booting.then(connecting, connecting);
  await underWay;
  decl.load().catch(() => {});
  const { serveBooted } = await import('./fn.js');
  await serveBooted(decl, booting);
}
