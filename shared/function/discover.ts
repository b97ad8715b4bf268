// Finds every function declaration: functions/<product>/<capability>/function.(ts|js).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FunctionDeclaration } from './define.js';

/** The extension of this running module: `.ts` under tsx, `.js` from dist/. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** Where the declarations are: functions/ under tsx, dist/functions when compiled. */
export function functionsDir(root: string): string {
  return EXT === '.ts' ? join(root, 'functions') : join(root, 'dist', 'functions');
}

/** Loads the declarations below `functionsDir` (sorted by name; duplicates are an error). */
export async function discoverFunctions(functionsDir: string): Promise<FunctionDeclaration[]> {
  const found: FunctionDeclaration[] = [];
  if (!existsSync(functionsDir)) return found;
  for (const product of readdirSync(functionsDir, { withFileTypes: true })) {
    if (!product.isDirectory()) continue;
    const productDir = join(functionsDir, product.name);
    for (const cap of readdirSync(productDir, { withFileTypes: true })) {
      if (!cap.isDirectory()) continue;
      const file = join(productDir, cap.name, `function${EXT}`);
      if (!existsSync(file)) continue;
      const mod = (await import(pathToFileURL(file).href)) as { default?: FunctionDeclaration };
      if (!mod.default?.name) throw new TypeError(`${file} has no default export from defineFunction()`);
      found.push(mod.default);
    }
  }
  found.sort((a, b) => a.name.localeCompare(b.name));
  const names = new Set<string>();
  for (const f of found) {
    if (names.has(f.name)) throw new TypeError(`function name ${f.name} is declared twice`);
    names.add(f.name);
  }
  return found;
}
