// Writes generated files into knative/, or compares them with what is there (--check).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

/** Every YAML file below `dir`, as posix paths relative to it. */
export function listYaml(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** What differs between `dir` and the generated files: changed, missing and extra paths. */
export function staleFiles(dir: string, files: Map<string, string>): { changed: string[]; missing: string[]; extra: string[] } {
  const present = new Set(listYaml(dir));
  const changed: string[] = [];
  const missing: string[] = [];
  for (const [path, content] of files) {
    if (!present.has(path)) missing.push(path);
    else if (readFileSync(join(dir, path), 'utf8') !== content) changed.push(path);
  }
  const extra = [...present].filter((p) => !files.has(p));
  return { changed, missing, extra };
}

/** Writes the generated files and removes YAML files no declaration produces any more. */
export function writeManifests(dir: string, files: Map<string, string>): { written: string[]; removed: string[] } {
  const { changed, missing, extra } = staleFiles(dir, files);
  for (const path of [...changed, ...missing]) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, files.get(path)!);
  }
  for (const path of extra) rmSync(join(dir, path));
  return { written: [...missing, ...changed].sort(), removed: extra };
}
