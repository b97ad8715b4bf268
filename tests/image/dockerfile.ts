// A small interpreter for the Dockerfile instructions the project's Dockerfile uses, run without a
// container runtime: each stage is a directory standing for its root filesystem, COPY copies with
// Docker's rules, RUN runs the shell command for real in the stage's WORKDIR with the stage's ENV.
// Anything it does not understand (another instruction, a flag, a glob, an absolute path in a RUN
// command, a base image other than node:<major>[-slim]) fails the build loudly rather than being
// approximated.
// https://docs.docker.com/reference/dockerfile/
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix, relative } from 'node:path';

interface Instruction {
  keyword: string;
  /** The arguments as written, flags included. */
  args: string;
  line: number;
}

/** Instructions of a Dockerfile: comments and blank lines dropped, `\` continuations joined. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      i++;
      // A comment line inside a continuation is dropped, as Docker does.
      if (/^\s*#/.test(lines[i]!)) continue;
      line = line.replace(/\\\s*$/, ' ') + lines[i]!;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: cannot parse "${line}"`);
    out.push({ keyword: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

export interface Stage {
  name: string | undefined;
  base: string;
  /** The directory standing for the stage's root filesystem. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  entrypoint: string[] | undefined;
  cmd: string[] | undefined;
  exposed: string[];
}

interface BuildOptions {
  /** The build context (see context.ts). */
  context: string;
  /** Where the stages' root directories are made. */
  work: string;
  /** The node binary that stands for the base image `node:<major>`: its root gets it as /usr/local/bin/node. */
  nodeFor: (major: string) => string;
  /** Extra environment for RUN steps (e.g. npm's prefer-offline). */
  runEnv?: Record<string, string>;
  log?: (line: string) => void;
}

/** Splits `--flag=value` options off the front of an instruction's arguments. */
function flags(args: string, allowed: string[], where: string): { flags: Record<string, string>; rest: string } {
  const found: Record<string, string> = {};
  let rest = args;
  for (let m = /^--([a-z-]+)=(\S+)\s+/.exec(rest); m; m = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
    if (!allowed.includes(m[1]!)) throw new Error(`${where}: flag --${m[1]} is not supported by this interpreter`);
    found[m[1]!] = m[2]!;
    rest = rest.slice(m[0].length);
  }
  if (rest.startsWith('--')) throw new Error(`${where}: cannot parse flag in "${rest}"`);
  return { flags: found, rest };
}

/** The JSON (exec) form `["a", "b"]`; the shell form is refused (it would need /bin/sh -c semantics). */
function execForm(args: string, where: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new Error(`${where}: only the exec (JSON array) form is supported`);
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`${where}: not a JSON array of strings`);
  return parsed;
}

/** A path inside a stage root; refuses one that would leave it. */
function inRoot(root: string, absolute: string, where: string): string {
  const normal = posix.normalize(absolute);
  if (!normal.startsWith('/')) throw new Error(`${where}: ${absolute} is not absolute`);
  const p = join(root, normal);
  if (relative(root, p).startsWith('..')) throw new Error(`${where}: ${absolute} leaves the root`);
  return p;
}

/**
 * COPY with Docker's rules: a directory source copies its contents; a file source lands in `dest`
 * when it ends with `/` or names a directory, else becomes `dest`. A missing source fails the build,
 * as `docker build` does ("not found").
 */
function copy(srcRoot: string, srcPaths: string[], destAbs: string, destRoot: string, where: string): void {
  const dest = inRoot(destRoot, destAbs, where);
  const toDir = destAbs.endsWith('/') || srcPaths.length > 1;
  for (const src of srcPaths) {
    if (/[*?[]/.test(src)) throw new Error(`${where}: wildcards in COPY sources are not supported by this interpreter`);
    const from = src.startsWith('/') ? inRoot(srcRoot, src, where) : join(srcRoot, posix.normalize(src));
    if (relative(srcRoot, from).startsWith('..')) throw new Error(`${where}: ${src} leaves the build context`);
    if (!existsSync(from)) throw new Error(`${where}: "${src}" not found (excluded by .dockerignore or absent)`);
    if (statSync(from).isDirectory()) {
      mkdirSync(dest, { recursive: true });
      cpSync(from, dest, { recursive: true, verbatimSymlinks: true });
    } else {
      const target = toDir || (existsSync(dest) && statSync(dest).isDirectory()) ? join(dest, basename(from)) : dest;
      mkdirSync(join(target, '..'), { recursive: true });
      copyFileSync(from, target);
    }
  }
}

/** `KEY=value` pairs of ENV (values may be double-quoted); the legacy `ENV KEY value` form is refused. */
function envPairs(args: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/y;
  let pos = 0;
  while (pos < args.length) {
    re.lastIndex = pos;
    const m = re.exec(args);
    if (!m) throw new Error(`${where}: only ENV KEY=value is supported`);
    out[m[1]!] = m[2]!.startsWith('"') ? (JSON.parse(m[2]!) as string) : m[2]!;
    pos = re.lastIndex;
    while (args[pos] === ' ') pos++;
  }
  return out;
}

/** Runs every stage of `dockerfile` on the build context; returns the stages, the last being the image. */
export function buildImage(dockerfile: string, opts: BuildOptions): Stage[] {
  const stages: Stage[] = [];
  const log = opts.log ?? (() => {});
  for (const ins of parseDockerfile(readFileSync(dockerfile, 'utf8'))) {
    const where = `Dockerfile line ${ins.line} (${ins.keyword})`;
    const stage = stages.at(-1);
    if (ins.keyword !== 'FROM' && !stage) throw new Error(`${where}: before the first FROM`);
    log(`${ins.keyword} ${ins.args}`);
    switch (ins.keyword) {
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+([a-z][-a-z0-9_.]*))?$/i.exec(ins.args);
        const image = m && /^node:(\d+)(-slim)?$/.exec(m[1]!);
        if (!m || !image) throw new Error(`${where}: only node:<major>[-slim] base images are supported, not "${ins.args}"`);
        const root = join(opts.work, `stage-${stages.length}`);
        // The base image's part that matters here: its node binary (and a PATH finding it).
        const bin = join(root, 'usr', 'local', 'bin');
        mkdirSync(bin, { recursive: true });
        copyFileSync(opts.nodeFor(image[1]!), join(bin, 'node'));
        chmodSync(join(bin, 'node'), 0o755);
        stages.push({ name: m[2], base: m[1]!, root, workdir: '/', env: {}, user: undefined, entrypoint: undefined, cmd: undefined, exposed: [] });
        break;
      }
      case 'WORKDIR': {
        stage!.workdir = posix.resolve(stage!.workdir, ins.args);
        mkdirSync(inRoot(stage!.root, stage!.workdir, where), { recursive: true });
        break;
      }
      case 'ENV':
        Object.assign(stage!.env, envPairs(ins.args, where));
        break;
      case 'COPY': {
        const { flags: f, rest } = flags(ins.args, ['from'], where);
        const parts = rest.split(/\s+/);
        if (parts.length < 2 || rest.startsWith('[')) throw new Error(`${where}: need COPY <src>... <dest>`);
        const dest = parts.pop()!;
        const destAbs = dest.startsWith('/') ? dest : posix.join(stage!.workdir, dest) + (dest.endsWith('/') || dest === '.' ? '/' : '');
        let srcRoot = opts.context;
        if (f.from !== undefined) {
          const from = stages.find((s) => s.name === f.from) ?? stages[Number(f.from)];
          if (!from || from === stage) throw new Error(`${where}: no earlier stage "${f.from}"`);
          srcRoot = from.root;
          for (const p of parts) if (!p.startsWith('/')) throw new Error(`${where}: COPY --from sources must be absolute here`);
        }
        copy(srcRoot, parts, destAbs, stage!.root, where);
        break;
      }
      case 'RUN': {
        if (ins.args.startsWith('[') || ins.args.startsWith('--')) throw new Error(`${where}: only the shell form without flags is supported`);
        // The command runs on this machine, not in a container: an absolute path would reach outside the stage.
        if (/(^|[\s=;&|(])\/(?!\s)/.test(ins.args)) throw new Error(`${where}: an absolute path in a RUN command cannot be run outside a container`);
        const cwd = inRoot(stage!.root, stage!.workdir, where);
        // The builder's network settings (a CA bundle, a proxy) reach RUN as they would a build container's.
        const network = Object.fromEntries(Object.entries(process.env).filter(([k]) => /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|(https?|no)_proxy)$/i.test(k)));
        const env = { ...network, PATH: `${join(stage!.root, 'usr', 'local', 'bin')}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/root', ...opts.runEnv, ...stage!.env };
        const r = spawnSync('/bin/sh', ['-c', ins.args], { cwd, env, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
        if (r.status !== 0) throw new Error(`${where}: exited ${r.status ?? r.signal}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
        break;
      }
      case 'USER':
        if (!/^\d+(:\d+)?$/.test(ins.args)) throw new Error(`${where}: only a numeric uid[:gid] is supported`);
        stage!.user = ins.args;
        break;
      case 'EXPOSE':
        stage!.exposed.push(...ins.args.split(/\s+/));
        break;
      case 'ENTRYPOINT':
        stage!.entrypoint = execForm(ins.args, where);
        break;
      case 'CMD':
        stage!.cmd = execForm(ins.args, where);
        break;
      default:
        throw new Error(`${where}: instruction ${ins.keyword} is not supported by this interpreter`);
    }
  }
  if (!stages.length) throw new Error('Dockerfile has no FROM');
  return stages;
}
