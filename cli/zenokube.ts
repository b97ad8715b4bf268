#!/usr/bin/env node
// The zenokube CLI: operator commands. Each command's module is imported only when used.
const commands: Record<string, { describe: string; run: () => Promise<{ main(args: string[]): Promise<number | void> }> }> = {
  start: { describe: 'run the whole stack on one port (embedded PGlite unless DATABASE_URL)', run: () => import('./start.js') },
  fn: { describe: 'run one function, as a Knative pod does: zenokube fn <name>', run: () => import('./fn.js') },
  migrate: { describe: 'apply pending database migrations', run: () => import('./migrate.js') },
  ingress: { describe: 'run ZenoIngress alone on a directory of Gateway API manifests: --config DIR [--port-offset N]', run: () => import('./ingress.js') },
  login: { describe: 'sign in with the device flow and save the tokens (zenokube login --help)', run: () => import('./login.js') },
  auth: { describe: 'ZenoAuth admin: tenants, users, clients, keys, sessions (zenokube auth help)', run: () => import('./auth.js') },
  vault: { describe: 'vault operator commands: init | unseal [key] | seal | status', run: () => import('./vault.js') },
  license: { describe: 'verify a license token offline: license verify --jwks FILE --audience PRODUCT [TOKEN_FILE|-]', run: () => import('./license.js') },
  apply: { describe: 'ZenoScope local mode: provision the ZenoScope/ZenoApp of -f FILE against the running stack, without Kubernetes', run: () => import('./scope.js').then((m) => ({ main: (a: string[]) => m.main(['apply', ...a]) })) },
  delete: { describe: 'ZenoScope local mode: tear down what `apply -f FILE` made, in reverse', run: () => import('./scope.js').then((m) => ({ main: (a: string[]) => m.main(['delete', ...a]) })) },
  manifests: { describe: 'write knative/ from the function declarations (--check: fail when stale)', run: () => import('./manifests.js') },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.describe}`);
  return `usage: zenokube <command> [args]\n\ncommands:\n${rows.join('\n')}\n`;
}

const [name, ...args] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (!command) {
  process.stderr.write(name && name !== 'help' && name !== '--help' ? `unknown command: ${name}\n\n${usage()}` : usage());
  process.exitCode = name && name !== 'help' && name !== '--help' ? 2 : 0;
} else {
  try {
    const code = await (await command.run()).main(args);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    const e = err as Error;
    process.stderr.write(`zenokube ${name}: ${e.name === 'ConfigError' ? e.message : (e.stack ?? e.message)}\n`);
    process.exitCode = 1;
  }
}
