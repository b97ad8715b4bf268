// Compiles the project's TypeScript, tests included, to JavaScript under dist/ for the test runner
// (scripts/run-tests.mjs): one module per source file, as `npm run build` lays dist/ out, so
// `#shared/*` and the other subpath imports resolve to dist/ under Node's default conditions and
// test processes run plain JavaScript with no loader. A TypeScript loader costs each test process
// about a second of CPU on a large import graph (every module resolved and loaded through its
// hooks); over two hundred test files that is minutes of the suite. Types are checked by
// `tsc --noEmit`, which `npm test` runs beside the tests.
//
// Only files whose output changed are written, and JavaScript without a source left is removed,
// so a second run is quick and a deleted module cannot linger. Test code (test files, test
// support, tests/, functions/<product>/testing/) sees `import.meta.url` as its source file's URL,
// so fixtures found beside it need no copy; product code keeps its dist/ URL, as in production.
//
//   node scripts/build-tests.mjs            (the runner calls buildTests() itself)
import { transform } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The source folders compiled (tsconfig.json's include). */
const SOURCES = ['shared', 'functions', 'eventing', 'manifests', 'local-cluster', 'cli', 'tests', 'bench', 'scripts', 'crds'];
const SKIP = new Set(['node_modules', 'dist', '.git', '.zenokube']);

/** Test code: its `import.meta` speaks of the source file. */
const isTestCode = (rel) => /\.test(-support)?\.tsx?$/.test(rel) || rel.startsWith('tests/') || /^functions\/[^/]+\/testing\//.test(rel);

function sourcesUnder(root, dir, out) {
  if (!existsSync(join(root, dir))) return out;
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue;
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) sourcesUnder(root, rel, out);
    else if (/\.(tsx?|mjs|cjs|js)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** The compiled file of a source file, relative to the root: `x.ts`/`x.tsx` → `dist/x.js`; JavaScript keeps its name. */
export function compiledPath(rel) {
  return join('dist', rel.replace(/\.tsx?$/, '.js'));
}

async function compile(root, rel) {
  const file = join(root, rel);
  const code = readFileSync(file, 'utf8');
  if (!/\.tsx?$/.test(rel)) return code;
  const url = pathToFileURL(file).href;
  const result = await transform(code, {
    loader: rel.endsWith('.tsx') ? 'tsx' : 'ts',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcefile: relative(dirname(join(root, compiledPath(rel))), file),
    sourcemap: 'inline',
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true, useDefineForClassFields: true, jsx: 'react-jsx', jsxImportSource: 'hono/jsx' } },
    ...(isTestCode(rel)
      ? { define: { 'import.meta.url': JSON.stringify(url), 'import.meta.filename': JSON.stringify(file), 'import.meta.dirname': JSON.stringify(dirname(file)) } }
      : {}),
  });
  return result.code;
}

/** Compiles every source under `root` into `root`/dist; resolves to how many files it wrote and removed. */
export async function buildTests(root) {
  const sources = SOURCES.flatMap((dir) => sourcesUnder(root, dir, []));
  const wanted = new Set(sources.map((rel) => compiledPath(rel)));
  let written = 0;
  const queue = [...sources];
  const worker = async () => {
    for (let rel = queue.shift(); rel !== undefined; rel = queue.shift()) {
      const out = join(root, compiledPath(rel));
      const code = await compile(root, rel);
      if (existsSync(out) && readFileSync(out, 'utf8') === code) continue;
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, code);
      written++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  // JavaScript in dist/<source folder> that no source compiles to any more (a moved or deleted module).
  let removed = 0;
  for (const dir of SOURCES) {
    const base = join(root, 'dist', dir);
    if (!existsSync(base)) continue;
    for (const rel of readdirSync(base, { recursive: true, withFileTypes: false })) {
      const path = join('dist', dir, String(rel));
      if (/\.(m|c)?js$/.test(path) && !wanted.has(path)) {
        rmSync(join(root, path));
        removed++;
      }
    }
  }
  return { files: sources.length, written, removed };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const r = await buildTests(process.cwd());
  console.log(`compiled ${r.files} files to dist/ (${r.written} written, ${r.removed} removed) in ${Math.round(performance.now() - started)} ms`);
}
