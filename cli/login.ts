// `zenokube login [--tenant SLUG | --issuer URL] [--client-id ID] [--scope S] [--out FILE]`: signs in
// through ZenoAuth's device authorization grant (RFC 8628) and saves the tokens (mode 0600).
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '#shared/config/index';
import { deviceLogin, LoginError, saveTokens } from './device-login.js';

const USAGE = `usage: zenokube login [--tenant SLUG | --issuer URL] [--client-id ID] [--scope SCOPE] [--out FILE]
  signs in with the device authorization grant: open the link shown, enter the code, confirm.
  --tenant     the tenant whose issuer is {ZENO_BASE_URL}/auth/SLUG (default system)
  --issuer     the issuer URL instead
  --client-id  a public client registered for urn:ietf:params:oauth:grant-type:device_code (default zenokube-cli)
  --scope      default "openid profile offline_access"
  --out        where the tokens go, mode 0600 (default ~/.zenokube/tokens.json)
`;

export async function main(args: string[]): Promise<number> {
  const opts: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    if (name === 'help' || a === '-h') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (!name || !['tenant', 'issuer', 'client-id', 'scope', 'out'].includes(name) || args[i + 1] === undefined) {
      process.stderr.write(`unexpected argument ${a}\n${USAGE}`);
      return 2;
    }
    opts[name] = args[++i]!;
  }
  if (opts.tenant !== undefined && opts.issuer !== undefined) {
    process.stderr.write(`--tenant and --issuer exclude each other\n${USAGE}`);
    return 2;
  }
  const issuer = (opts.issuer ?? `${loadConfig().baseUrl.replace(/\/+$/, '')}/auth/${encodeURIComponent(opts.tenant ?? 'system')}`).replace(/\/+$/, '');
  const out = opts.out ?? join(homedir(), '.zenokube', 'tokens.json');
  try {
    const tokens = await deviceLogin({
      issuer,
      clientId: opts['client-id'] ?? 'zenokube-cli',
      scope: opts.scope ?? 'openid profile offline_access',
      fetch,
      sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
      show: (message) => process.stderr.write(message),
    });
    await saveTokens(out, tokens);
    process.stderr.write(`signed in; tokens saved to ${out}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof LoginError)) throw err;
    process.stderr.write(`zenokube login: ${err.code}: ${err.message}\n`);
    return 1;
  }
}
