// Finds function declarations: functions/<product>/<capability>/function.(ts|js), every one or one by name.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '#shared/db/root';
import type { FunctionDeclaration } from './define.js';

/** The extension of this running module: `.ts` under tsx, `.js` from dist/. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** The folder `rel` of the project as this process loads it: the sources under tsx, its dist/ copy when compiled. */
export function loadedDir(root: string, ...rel: string[]): string {
  return EXT === '.ts' ? join(root, ...rel) : join(root, 'dist', ...rel);
}

/** Where the declarations are: functions/ under tsx, dist/functions when compiled. */
export function functionsDir(root: string): string {
  return loadedDir(root, 'functions');
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

/** Imports the declaration in `dir` (its function.js or .ts), e.g. a fixture outside functions/. */
export async function loadDeclarationFrom(dir: string): Promise<FunctionDeclaration> {
  const file = join(resolve(dir), `function${EXT}`);
  if (!existsSync(file)) throw new Error(`no function declaration at ${file}`);
  const decl = ((await import(pathToFileURL(file).href)) as { default?: FunctionDeclaration }).default;
  if (!decl?.name) throw new Error(`${file} has no default export from defineFunction()`);
  return decl;
}

/** Imports only the named function's declaration (`<product>-<capability>`), nothing else. */
export async function loadDeclaration(name: string): Promise<FunctionDeclaration> {
  const dash = name.indexOf('-');
  if (!/^[a-z][-a-z0-9]*$/.test(name) || dash < 1) throw new Error(`not a function name: ${name}`);
  const file = join(functionsDir(projectRoot()), name.slice(0, dash), name.slice(dash + 1), `function${EXT}`);
  if (!existsSync(file)) throw new Error(`no function named ${name} (looked for ${file})`);
  const decl = ((await import(pathToFileURL(file).href)) as { default: FunctionDeclaration }).default;
  if (decl.name !== name) throw new Error(`${file} declares ${decl.name}, not ${name}`);
  return decl;
}
