// `zenokube auth …`: the ZenoAuth admin API from the command line. Authenticates as zeno-admin
// (secret from ZENO_BOOTSTRAP_CLIENT_SECRET, else the one-machine file under the data dir).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '#shared/config/index';

const USAGE = `usage: zenokube auth <command>

  tenants list | create <slug> [display name] | delete <slug>
  users list <tenant> | create <tenant> <username> [--email E] [--name N] (password from ZENO_NEW_PASSWORD)
        disable <tenant> <user-id> | enable <tenant> <user-id> | delete <tenant> <user-id>
  clients list <tenant> | create <tenant> '<RFC 7591 metadata JSON>' | delete <tenant> <client-id>
  keys list <tenant> | rotate <tenant>
  sessions list <tenant> [--user <user-id>] | revoke <tenant> <session-id>
  token                  print an admin access token (scope zeno:admin)

environment: ZENO_BASE_URL (default http://localhost:$PORT), ZENO_BOOTSTRAP_CLIENT_SECRET
`;

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  args.splice(i, 2);
  return v;
}

async function adminSecret(dataDir: string): Promise<string> {
  const env = process.env.ZENO_BOOTSTRAP_CLIENT_SECRET;
  if (env) return env;
  try {
    return (await readFile(join(dataDir, 'auth', 'bootstrap-client-secret'), 'utf8')).trim();
  } catch {
    throw new Error('no admin credentials: set ZENO_BOOTSTRAP_CLIENT_SECRET');
  }
}

async function adminToken(base: string, secret: string): Promise<string> {
  const res = await fetch(`${base}/auth/system/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic ' + Buffer.from(`zeno-admin:${encodeURIComponent(secret)}`).toString('base64'),
    },
    body: 'grant_type=client_credentials&scope=zeno%3Aadmin',
  });
  const body = (await res.json()) as { access_token?: string; error_description?: string };
  if (!res.ok || !body.access_token) throw new Error(`cannot get an admin token: ${body.error_description ?? res.status}`);
  return body.access_token;
}

export async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const [noun, verb, ...rest] = args;
  if (!noun || noun === 'help' || noun === '--help') {
    process.stdout.write(USAGE);
    return noun ? 0 : 2;
  }
  const config = loadConfig();
  const base = config.baseUrl;
  const token = await adminToken(base, await adminSecret(config.dataDir));
  if (noun === 'token') {
    process.stdout.write(token + '\n');
    return 0;
  }
  const call = async (method: string, path: string, body?: unknown): Promise<number> => {
    const res = await fetch(`${base}/auth/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (text) process.stdout.write((res.headers.get('content-type')?.includes('json') ? JSON.stringify(JSON.parse(text), null, 2) : text) + '\n');
    if (!res.ok) process.stderr.write(`HTTP ${res.status}\n`);
    return res.ok ? 0 : 1;
  };
  const enc = encodeURIComponent;
  const [a, b] = rest;
  const route = `${noun} ${verb ?? ''}`;
  switch (route) {
    case 'tenants list':
      return call('GET', '/tenants');
    case 'tenants create':
      return a ? call('POST', '/tenants', { slug: a, displayName: rest.slice(1).join(' ') || undefined }) : usage();
    case 'tenants delete':
      return a ? call('DELETE', `/tenants/${enc(a)}`) : usage();
    case 'users list':
      return a ? call('GET', `/tenants/${enc(a)}/users`) : usage();
    case 'users create': {
      const email = option(rest, '--email');
      const name = option(rest, '--name');
      return rest[0] && rest[1] ? call('POST', `/tenants/${enc(rest[0])}/users`, { username: rest[1], email, name, password: process.env.ZENO_NEW_PASSWORD }) : usage();
    }
    case 'users disable':
    case 'users enable':
      return a && b ? call('PATCH', `/tenants/${enc(a)}/users/${enc(b)}`, { active: verb === 'enable' }) : usage();
    case 'users delete':
      return a && b ? call('DELETE', `/tenants/${enc(a)}/users/${enc(b)}`) : usage();
    case 'clients list':
      return a ? call('GET', `/tenants/${enc(a)}/clients`) : usage();
    case 'clients create':
      return a && b ? call('POST', `/tenants/${enc(a)}/clients`, JSON.parse(b)) : usage();
    case 'clients delete':
      return a && b ? call('DELETE', `/tenants/${enc(a)}/clients/${enc(b)}`) : usage();
    case 'keys list':
      return a ? call('GET', `/tenants/${enc(a)}/keys`) : usage();
    case 'keys rotate':
      return a ? call('POST', `/tenants/${enc(a)}/keys/rotate`) : usage();
    case 'sessions list': {
      const user = option(rest, '--user');
      return rest[0] ? call('GET', `/tenants/${enc(rest[0])}/sessions${user ? `?user=${enc(user)}` : ''}`) : usage();
    }
    case 'sessions revoke':
      return a && b ? call('DELETE', `/tenants/${enc(a)}/sessions/${enc(b)}`) : usage();
    default:
      return usage();
  }
}

function usage(): number {
  process.stderr.write(USAGE);
  return 2;
}
