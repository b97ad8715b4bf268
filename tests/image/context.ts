// The Docker build context of a directory: the files `docker build` sends, as .dockerignore leaves
// them, matched by @balena/dockerignore (a port of Docker's own pattern matcher: Go filepath.Match
// globs, `**`, `!` exceptions where the last matching line wins, and a path excluded when a parent
// directory is). Copied into a fresh directory, so that a step can only see what Docker would send.
import dockerignore from '@balena/dockerignore';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

// The package is CommonJS (`module.exports = factory`) typed as an ES default export: the default
// import is the factory itself, which its types call `.default`.
const ignore = dockerignore as unknown as typeof dockerignore.default;

/** The patterns of `<dir>/.dockerignore` as Docker reads them: one a line, `#` comments, blank lines skipped. */
function readPatterns(dir: string): string[] {
  const file = join(dir, '.dockerignore');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/**
 * Copies the build context of `dir` into `out`; returns the relative (posix) paths of the files
 * copied. Like Docker, it skips an excluded directory without reading it when no exception
 * pattern could re-include something inside it.
 */
export function buildContext(dir: string, out: string): string[] {
  const patterns = readPatterns(dir);
  const ig = ignore().add(patterns);
  const exceptions = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1).replace(/^\/+/, ''));
  const mayReinclude = (rel: string) => exceptions.some((e) => e.startsWith(`${rel}/`) || /[*?[]/.test(e));
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      const excluded = ig.ignores(path);
      if (entry.isDirectory()) {
        if (excluded && !mayReinclude(path)) continue;
        walk(path);
        continue;
      }
      if (excluded) continue;
      const target = join(out, path);
      mkdirSync(join(target, '..'), { recursive: true });
      if (lstatSync(join(dir, path)).isSymbolicLink()) symlinkSync(readlinkSync(join(dir, path)), target);
      else copyFileSync(join(dir, path), target);
      files.push(path);
    }
  };
  mkdirSync(out, { recursive: true });
  walk('');
  return files.sort();
}
