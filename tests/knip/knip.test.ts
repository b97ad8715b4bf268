// Dead code and dependencies (knip.jsonc): no unused file, export, type or dependency, and every
// production dependency needed by the runtime (test-only packages belong in devDependencies).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';

/** Runs knip's command line in the project; resolves to its exit code and report. */
function knip(args: string[]): Promise<{ code: number | null; out: string }> {
  const root = projectRoot();
  const bin = join(root, 'node_modules', 'knip', 'bin', 'knip.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, '--no-progress', '--no-config-hints', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => (out += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('knip', { timeout: 300_000 }, () => {
  it('finds no unused file, export, type or dependency', async () => {
    const { code, out } = await knip([]);
    assert.equal(code, 0, `knip found dead code or unused dependencies:\n${out}`);
  });

  it('finds every production dependency used by production code', async () => {
    const { code, out } = await knip(['--production', '--include', 'dependencies,unlisted,files']);
    assert.equal(code, 0, `production dependencies not used by the runtime (move them to devDependencies):\n${out}`);
  });
});
