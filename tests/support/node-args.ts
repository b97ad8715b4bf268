// How a test starts one of the project's TypeScript modules in a child node process (the CLI, a
// function's pod, a fixture server): the way the test itself runs. Under the test runner the
// sources are compiled to dist/ first (scripts/build-tests.mjs), so the child runs that
// JavaScript without a loader; a test run from source (`--import tsx`) starts its child through
// tsx too. `npm start` itself is tested as users run it, through tsx, and does not come here.
import { isAbsolute, join, relative } from 'node:path';
import { projectRoot } from '#shared/db/root';

/** True when this process runs the compiled tree: the subpath imports resolve to dist/. */
const compiled = import.meta.resolve('#shared/db/root').endsWith('.js');

/**
 * The node arguments that run `file` (a .ts module, relative to the project root or absolute),
 * to be followed by the module's own arguments.
 */
export function nodeArgs(file: string): string[] {
  if (!compiled) return ['--conditions=development', '--import', 'tsx', file];
  const root = projectRoot();
  const rel = isAbsolute(file) ? relative(root, file) : file;
  return ['--enable-source-maps', join(root, 'dist', rel.replace(/\.tsx?$/, '.js'))];
}
