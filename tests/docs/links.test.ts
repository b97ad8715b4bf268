// The documentation stays true to the repository: every relative link reaches a file and heading
// that exist, every repository path and npm script it names exists, and the README stays short.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { projectRoot } from '#shared/db/root';

const root = projectRoot();
/** The README is meant to be read in one sitting; detail belongs in docs/. */
const README_MAX_BYTES = 12 * 1024;
/** Top-level folders whose paths the docs may name; a path under one of them must exist. */
const REPO_DIRS = ['functions', 'shared', 'eventing', 'cli', 'local-cluster', 'manifests', 'tests', 'bench', 'scripts', 'knative', 'crds', 'docs', '.ci'];

function markdownFiles(): string[] {
  const docs = join(root, 'docs');
  const found = existsSync(docs) ? readdirSync(docs, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.md')).map((f) => join(docs, f)) : [];
  return [join(root, 'README.md'), ...found.sort()];
}

/** The text outside HTML comments (the `<!-- update: … -->` notes name what is about to change). */
function withoutComments(text: string): string {
  return text.replace(/<!--[\s\S]*?-->/g, '');
}

/** The text outside fenced code blocks. */
function prose(text: string): string {
  return withoutComments(text).replace(/^```[\s\S]*?^```/gm, '');
}

/** Heading anchors as GitHub writes them: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of prose(markdown).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

const rel = (file: string) => relative(root, file);

describe('documentation', () => {
  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target!)) continue;
        const [path, anchor] = target!.split('#', 2) as [string, string | undefined];
        const dest = path ? resolve(dirname(file), path) : file;
        if (!existsSync(dest)) {
          broken.push(`${rel(file)}: ${target} (no such file)`);
          continue;
        }
        if (anchor !== undefined && dest.endsWith('.md') && !headingAnchors(readFileSync(dest, 'utf8')).has(anchor)) {
          broken.push(`${rel(file)}: ${target} (no such heading in ${rel(dest)})`);
        }
      }
    }
    assert.deepEqual(broken, []);
  });

  it('names only repository paths that exist', () => {
    const missing: string[] = [];
    const prefix = new RegExp(`^(${REPO_DIRS.map((d) => d.replace('.', '\\.')).join('|')})/`);
    for (const file of markdownFiles()) {
      for (const [, span] of prose(readFileSync(file, 'utf8')).matchAll(/`([^`\n]+)`/g)) {
        // Only a bare path: no spaces (commands), no placeholders (`<product>`, `{tenant}`, `…`, `*`).
        if (!prefix.test(span!) || /[\s<>{}*…]/.test(span!)) continue;
        if (!existsSync(join(root, span!))) missing.push(`${rel(file)}: ${span}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('names only npm scripts that package.json defines', () => {
    const scripts = new Set(Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts));
    const unknown: string[] = [];
    for (const file of markdownFiles()) {
      for (const [, name] of withoutComments(readFileSync(file, 'utf8')).matchAll(/npm run ([a-z][\w:-]*)/g)) {
        if (!scripts.has(name!)) unknown.push(`${rel(file)}: npm run ${name}`);
      }
    }
    assert.deepEqual(unknown, []);
  });

  it('keeps the README within 12 KiB', () => {
    const bytes = readFileSync(join(root, 'README.md')).byteLength;
    assert.ok(bytes <= README_MAX_BYTES, `README.md is ${bytes} bytes; the limit is ${README_MAX_BYTES}: move detail into docs/`);
  });
});

describe('headingAnchors', () => {
  it('drops punctuation and code marks, turns spaces into dashes and numbers repeated headings', () => {
    const anchors = headingAnchors('# One machine: `npm start`\n## Keys\n## Keys\n```\n# not a heading\n```\n### `bench/start.ts`: the path\n');
    assert.deepEqual([...anchors], ['one-machine-npm-start', 'keys', 'keys-1', 'benchstartts-the-path']);
  });
});
