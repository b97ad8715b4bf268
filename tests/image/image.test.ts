// The image's content, proven without a container runtime: the build context is made as Docker
// makes it (.dockerignore), the Dockerfile's steps run on it (tests/image/dockerfile.ts: `npm ci`
// and `npm run build` for real), and the runtime stage's tree is then inspected and started: the
// entrypoint with the stage's ENV, in its WORKDIR, as its USER when this runs as root, on a tree no
// one may write, against a fresh PostgreSQL database. Slow (an npm ci and a build): built once.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '#shared/db/root';
import { createEmptyDatabase } from '#tests/support/database';
import { waitFor } from '#tests/support/poll';
import { freePort } from '#tests/support/ports';
import { buildContext } from './context.js';
import { buildImage, type Stage } from './dockerfile.js';

const root = projectRoot();

/** The node binary standing for `node:<major>`: the `node` package of that major from the npm registry (cached). */
function nodeOfMajor(major: string): string {
  const r = spawnSync('npx', ['--prefer-offline', '-y', `node@${major}`, '-p', 'process.execPath'], { encoding: 'utf8' });
  const path = r.stdout?.trim();
  if (r.status !== 0 || !path) throw new Error(`cannot get Node ${major} (npx node@${major}): ${r.stderr}`);
  return path;
}

/** Every file under `dir`, relative (posix). */
function filesUnder(dir: string, base = dir, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) filesUnder(p, base, out);
    else out.push(relative(base, p).split('\\').join('/'));
  }
  return out;
}

/** The packages installed under a node_modules tree (nested ones included), as `node_modules/...` lock keys. */
function installedPackages(app: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, prefix: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      if (e.name.startsWith('@')) {
        for (const s of readdirSync(join(dir, e.name), { withFileTypes: true })) {
          if (!s.isDirectory()) continue;
          out.push(`${prefix}${e.name}/${s.name}`);
          walk(join(dir, e.name, s.name, 'node_modules'), `${prefix}${e.name}/${s.name}/node_modules/`);
        }
        continue;
      }
      out.push(`${prefix}${e.name}`);
      walk(join(dir, e.name, 'node_modules'), `${prefix}${e.name}/node_modules/`);
    }
  };
  walk(join(app, 'node_modules'), 'node_modules/');
  return out.sort();
}

/**
 * The env of a function's container as its generated Knative Service sets it (knative/functions/),
 * with `secrets` ("<secret>/<key>" → value) standing in for the Secrets, and what Knative itself
 * sets (K_SERVICE; PORT is the caller's).
 */
function serviceEnv(fn: string, secrets: Record<string, string>): Record<string, string> {
  const svc = parse(readFileSync(join(root, 'knative', 'functions', `${fn}.yaml`), 'utf8').split(/^---$/m)[0]!) as any;
  const env: Record<string, string> = { K_SERVICE: fn };
  for (const e of svc.spec.template.spec.containers[0].env as any[]) {
    if ('value' in e) env[e.name] = e.value;
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) continue;
    const value = secrets[`${ref.name}/${ref.key}`];
    if (value !== undefined) env[e.name] = value;
    else assert.ok(ref.optional, `${fn}: the test supplies no value for the Secret ${ref.name}/${ref.key}`);
  }
  return env;
}

interface Run {
  exit: Promise<number | null>;
  exited(): boolean;
  output(): string;
  stop(): Promise<void>;
}

/** Starts the image's ENTRYPOINT + `args` (or CMD) as `docker run` would, from the stage's tree. */
function runImage(image: Stage, args: string[] | undefined, env: Record<string, string>): Run {
  const [command, ...rest] = [...image.entrypoint!, ...(args ?? image.cmd ?? [])];
  const bin = join(image.root, 'usr', 'local', 'bin');
  assert.equal(command, 'node', 'the entrypoint is the base image node');
  const [uid, gid] = (image.user ?? '0').split(':').map(Number);
  const asUser = process.getuid?.() === 0 ? { uid: uid!, gid: gid ?? uid! } : {};
  const child = spawn(join(bin, 'node'), rest, {
    cwd: join(image.root, image.workdir),
    // The stage's ENV over what Docker sets itself; nothing of this process's environment leaks in.
    env: { PATH: `${bin}:/usr/bin:/bin`, HOME: image.workdir, ...image.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...asUser,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    exit,
    exited: () => child.exitCode !== null || child.signalCode !== null,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exit;
    },
  };
}

describe('the image (Dockerfile on its build context, without a container runtime)', () => {
  let work: string;
  let contextFiles: string[];
  let image: Stage;
  let app: string;
  let db: { url: string; drop(): Promise<void> };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'zk-image-'));
    // Traversable by the image's user; nothing inside is writable by it.
    chmodSync(work, 0o755);
    contextFiles = buildContext(root, join(work, 'context'));
    const stages = buildImage(join(root, 'Dockerfile'), {
      context: join(work, 'context'),
      work,
      nodeFor: nodeOfMajor,
      // `npm ci` takes what npm's cache holds instead of asking the registry again.
      runEnv: { npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' },
    });
    image = stages.at(-1)!;
    app = join(image.root, image.workdir);
    // A read-only root filesystem, as far as a process can be denied writes without a container.
    spawnSync('chmod', ['-R', 'a-w', image.root]);
    db = await createEmptyDatabase();
  });

  after(async () => {
    await db?.drop();
    if (work) {
      spawnSync('chmod', ['-R', 'u+w', work]);
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('sends a build context with the sources the build copies and no tests, fixtures or checkout state', () => {
    assert.ok(contextFiles.includes('scripts/bundle.ts'));
    assert.ok(contextFiles.includes('package-lock.json'));
    assert.ok(contextFiles.some((f) => f.startsWith('functions/vault/core/migrations/')));
    const stray = contextFiles.filter((f) => /^(tests|bench|docs|knative|node_modules|dist|\.git)\/|\.test(-support)?\.tsx?$|^functions\/[^/]+\/testing\//.test(f));
    assert.deepEqual(stray, []);
  });

  it('holds dist/, the production dependencies, the migrations and package.json, and nothing else', () => {
    assert.deepEqual(readdirSync(image.root).sort(), ['app', 'usr'], 'only /app and the base image node');
    assert.equal(image.workdir, '/app');
    assert.deepEqual(readdirSync(app).sort(), ['dist', 'eventing', 'functions', 'node_modules', 'package.json']);
    for (const dir of ['functions', 'eventing']) {
      for (const f of filesUnder(join(app, dir))) assert.match(f, /(^|\/)migrations\/[^/]+\.(sql|json)$|(^|\/)migrations\/meta\/[^/]+\.json$/, `${dir}/${f}`);
    }
    const dist = filesUnder(join(app, 'dist'));
    assert.ok(dist.includes('fn/zenokube.mjs') && dist.includes('fn/auth-token.mjs') && dist.includes('cli/zenokube.js'));
    assert.deepEqual(dist.filter((f) => !/\.(m?js|json)$/.test(f)), [], 'dist/ holds JavaScript only (no .ts sources, no maps)');
    assert.deepEqual(dist.filter((f) => /(^|\/)(tests?|fixtures|testing|bench)\/|\.test[.-]/.test(f)), [], 'no tests or fixtures');
  });

  it('has every installed package a production dependency of the lock, and PGlite left out', () => {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }> };
    const installed = installedPackages(app);
    assert.ok(installed.includes('node_modules/hono') && installed.includes('node_modules/postgres'));
    const notProduction = installed.filter((p) => !lock.packages[p] || lock.packages[p]!.dev || lock.packages[p]!.devOptional || lock.packages[p]!.optional);
    assert.deepEqual(notProduction, []);
    // A devDependency of ours may still be installed when a production package needs it (the lock
    // then marks it so: @kubernetes/client-node needs openid-client and @types/node); the tools are not.
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const devOnly = Object.keys(pkg.devDependencies).filter((d) => lock.packages[`node_modules/${d}`]?.dev);
    assert.ok(['typescript', 'esbuild', 'tsx', 'knip', '@balena/dockerignore'].every((d) => devOnly.includes(d)));
    assert.deepEqual(devOnly.filter((d) => existsSync(join(app, 'node_modules', d))), []);
    assert.equal(existsSync(join(app, 'node_modules', '@electric-sql', 'pglite')), false);
  });

  it('migrates a fresh database with the Job command, then serves a function answering /readyz 200, as its user on a tree it cannot write', async () => {
    assert.equal(image.user, '1000:1000');
    const migrate = runImage(image, ['migrate'], { DATABASE_URL: db.url });
    assert.equal(await migrate.exit, 0, migrate.output());
    const env = serviceEnv('auth-token', {
      'zenokube-db-app/username': 'postgres',
      'zenokube-db-app/password': '',
      'zeno-auth/master-key': randomBytes(32).toString('base64'),
      'zeno-auth/bootstrap-client-secret': randomBytes(32).toString('hex'),
    });
    // The manifest's URLs name the cluster's Pooler and primary Services (over TLS): here both are
    // the test server, which has no TLS, and the URL carries its user.
    for (const key of ['DATABASE_URL', 'ZENO_DB_LISTEN_URL']) {
      assert.match(env[key]!, /^postgresql:\/\/zenokube-db-(pooler-)?rw:5432\//, key);
      env[key] = db.url;
    }
    assert.equal(env.ZENO_DB_PREPARE, 'false', 'statements unprepared, as through the transaction-mode Pooler');
    // The manifest's own runtime settings reach the process (Node refuses a NODE_OPTIONS it does not take).
    assert.equal(env.ZENO_FUNCTION, 'auth-token');
    assert.ok(env.ZENO_DB_POOL_MAX && env.NODE_OPTIONS);
    const port = await freePort();
    const fn = runImage(image, undefined, { ...env, PORT: String(port), HOST: '127.0.0.1' });
    try {
      const status = await waitFor('/readyz of the function', async () => {
        if (fn.exited()) {
          throw new Error(`the function failed: ${fn.output()}`);
        }
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return res?.status === 200 ? res.status : undefined;
      }).catch((err: Error) => assert.fail(`${err.message}; the function said:\n${fn.output()}`));
      assert.equal(status, 200);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      const token = await fetch(`http://127.0.0.1:${port}/auth/no-such-tenant/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }) });
      assert.ok(token.status >= 400 && token.status < 500, `a 4xx for an unknown tenant, got ${token.status}`);
    } finally {
      await fn.stop();
    }
    assert.equal(await fn.exit, 0, `a clean exit on SIGTERM: ${fn.output()}`);
  });

  it('needs DATABASE_URL and says so: the embedded PGlite is not in the image', async () => {
    const fn = runImage(image, undefined, { ZENO_FUNCTION: 'auth-oidc', PORT: String(await freePort()), HOST: '127.0.0.1' });
    assert.equal(await fn.exit, 1);
    assert.match(fn.output(), /DATABASE_URL: required here; the embedded PGlite \(@electric-sql\/pglite\) is not installed/);
  });
});

describe('the Dockerfile interpreter', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'zk-dockerfile-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Builds `dockerfile` on a context of `files` filtered by `dockerignore`. */
  function build(name: string, files: Record<string, string>, dockerignore: string, dockerfile: string): Stage[] {
    const project = join(dir, name, 'project');
    for (const [path, text] of Object.entries({ ...files, '.dockerignore': dockerignore, Dockerfile: dockerfile })) {
      mkdirSync(join(project, path, '..'), { recursive: true });
      writeFileSync(join(project, path), text);
    }
    buildContext(project, join(dir, name, 'context'));
    return buildImage(join(project, 'Dockerfile'), { context: join(dir, name, 'context'), work: join(dir, name), nodeFor: () => process.execPath });
  }

  it('fails a COPY of what .dockerignore leaves out, as docker build does', () => {
    const files = { 'scripts/bundle.ts': '//', 'src/a.js': '//' };
    assert.throws(() => build('excluded', files, 'scripts\n', 'FROM node:24-slim\nWORKDIR /app\nCOPY scripts scripts\n'), /COPY\): "scripts" not found/);
  });

  it('copies a directory source as its contents, a file into a directory destination, across stages', () => {
    const stages = build('copy', { 'src/a.js': 'a', 'src/sub/b.js': 'b', 'package.json': '{}', 'src/a.test.js': 't' }, '**/*.test.js\n', [
      'FROM node:24-slim AS build',
      'WORKDIR /app',
      'COPY src lib',
      'COPY package.json ./',
      'RUN mkdir out && cp -r lib out/ \\',
      ' && echo built > out/marker',
      'FROM node:24-slim',
      'ENV NODE_ENV=production GREETING="a b"',
      'WORKDIR /srv',
      'COPY --from=build /app/out/ ./',
      'USER 1000:1000',
      'ENTRYPOINT ["node", "lib/a.js"]',
    ].join('\n'));
    const [first, last] = [stages[0]!, stages[1]!];
    assert.deepEqual(filesUnder(join(first.root, 'app')).sort(), ['lib/a.js', 'lib/sub/b.js', 'out/lib/a.js', 'out/lib/sub/b.js', 'out/marker', 'package.json']);
    assert.deepEqual(filesUnder(join(last.root, 'srv')).sort(), ['lib/a.js', 'lib/sub/b.js', 'marker']);
    assert.deepEqual(last.env, { NODE_ENV: 'production', GREETING: 'a b' });
    assert.equal(last.user, '1000:1000');
    assert.deepEqual(last.entrypoint, ['node', 'lib/a.js']);
  });

  it('refuses what it cannot run faithfully: another instruction, flag or base image, an absolute path in RUN', () => {
    const at = (name: string, body: string) => () => build(name, { 'a.txt': 'a' }, '', `FROM node:24-slim\nWORKDIR /app\n${body}\n`);
    assert.throws(at('add', 'ADD a.txt .'), /instruction ADD is not supported/);
    assert.throws(at('healthcheck', 'HEALTHCHECK CMD true'), /instruction HEALTHCHECK is not supported/);
    assert.throws(at('chown', 'COPY --chown=1000 a.txt .'), /flag --chown is not supported/);
    assert.throws(at('glob', 'COPY *.txt ./'), /wildcards in COPY sources are not supported/);
    assert.throws(at('absolute', 'RUN mkdir -p /stage'), /an absolute path in a RUN command cannot be run outside a container/);
    assert.throws(at('shell-cmd', 'CMD node a.js'), /only the exec \(JSON array\) form is supported/);
    assert.throws(() => build('alpine', {}, '', 'FROM alpine:3\n'), /only node:<major>\[-slim\] base images are supported/);
    assert.throws(at('failing-run', 'RUN exit 3'), /RUN\): exited 3/);
  });
});
