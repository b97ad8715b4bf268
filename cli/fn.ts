// `zenokube fn <name>`: runs one function alone, exactly what its Knative pod runs.
import type { EventCatalog } from '#eventing/catalog';
import { loadDeclaration, loadDeclarationFrom } from '#shared/function/discover';
import type { FunctionDeclaration } from '#shared/function/define';
import type { Platform } from '#shared/function/platform';
import { runFunction } from '#shared/function/serve';

/** The project's event catalog, loaded only by a function that emits or receives events. */
const catalog = async (): Promise<EventCatalog> => (await import('#eventing/catalog')).catalog;

export async function main(args: string[]): Promise<number | void> {
  const dir = args[0] === '--dir' ? args[1] : undefined;
  const name = dir ? undefined : (args[0] ?? process.env.ZENO_FUNCTION);
  if (!name && !dir) {
    process.stderr.write('usage: zenokube fn <name> | zenokube fn --dir <folder of function.js>   (or set ZENO_FUNCTION)\n');
    return 2;
  }
  const decl = dir ? await loadDeclarationFrom(dir) : await loadDeclaration(name!);
  await runFunction(decl, { catalog });
}

/** Serves `decl` on the platform `booting` started (a function bundle's start, ./fn-start.ts). */
export function serveBooted(decl: FunctionDeclaration, booting: Promise<Platform>): Promise<void> {
  return runFunction(decl, { catalog, booting });
}
