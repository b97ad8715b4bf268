// Test support: runs dependency-cruiser's command line with the project's rules
// (.dependency-cruiser.cjs) in a folder and returns its violations, as a developer would see them.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '#shared/db/root';

export interface Violation {
  rule: string;
  from: string;
  to: string;
  /** The modules of a cycle, for the no-cycle rule. */
  cycle?: string[];
}

interface CruiseJson {
  summary: {
    error: number;
    ignore: number;
    violations: { rule: { name: string; severity: string }; from: string; to: string; cycle?: { name: string }[] }[];
  };
}

interface CruiseResult {
  /** Violations at severity error (known ones excluded when `ignoreKnown`). */
  errors: Violation[];
  /** Known violations (.dependency-cruiser-known-violations.json) that were found and ignored. */
  ignored: Violation[];
}

/** `depcruise --config <project rules> -T json [--ignore-known FILE] ...paths` in `cwd`. */
export async function depcruise(cwd: string, paths: string[], opts: { ignoreKnown?: string } = {}): Promise<CruiseResult> {
  const root = projectRoot();
  const args = [
    join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'),
    '--config', join(root, '.dependency-cruiser.cjs'),
    '--output-type', 'json',
    ...(opts.ignoreKnown ? ['--ignore-known', opts.ignoreKnown] : []),
    ...paths,
  ];
  const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  let parsed: CruiseJson;
  try {
    parsed = JSON.parse(out) as CruiseJson;
  } catch {
    throw new Error(`depcruise exited ${code} without a report:\n${err || out}`);
  }
  const toViolation = (v: CruiseJson['summary']['violations'][number]): Violation => ({
    rule: v.rule.name,
    from: v.from,
    to: v.to,
    ...(v.cycle ? { cycle: v.cycle.map((c) => c.name) } : {}),
  });
  const all = parsed.summary.violations;
  return {
    errors: all.filter((v) => v.rule.severity === 'error').map(toViolation),
    ignored: all.filter((v) => v.rule.severity === 'ignore').map(toViolation),
  };
}

/** One line per violation: `rule: from → to` (and the cycle's path). */
export function describeViolations(list: readonly Violation[]): string {
  return list.map((v) => `${v.rule}: ${v.from} → ${v.to}${v.cycle ? ` (cycle: ${[v.from, ...v.cycle].join(' → ')})` : ''}`).join('\n');
}
