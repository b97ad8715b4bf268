// `zenokube vault init|unseal|seal|status|generate-root -decode`: operator commands against the vault's HTTP API.
// Address from VAULT_ADDR (as the vault CLI: the base before /v1), else $ZENO_BASE_URL/vault,
// else http://127.0.0.1:$PORT/vault. A share given as no argument is read from stdin, so it
// stays out of shell history. `status --kube` asks every unsealer replica of a cluster instead.

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  readStdin: () => Promise<string>;
  fetch: typeof fetch;
}

const USAGE = `usage: zenokube vault <command>
  init [--shares N] [--threshold T] [--json]   initialise; prints the key shares and the root token once
  unseal [KEY]                                  submit one key share (read from stdin when omitted)
  seal                                          seal the vault (needs VAULT_TOKEN with sudo on sys/seal)
  status [--json]                               seal status
  generate-root -decode ENCODED -otp OTP        decode the encoded_token of sys/generate-root (base64 XOR OTP)
  status --kube [--namespace NS] [--service vault-unsealer] [--kubeconfig FILE] [--json]
                                                seal status of every unsealer replica (the Service's
                                                EndpointSlices); run where pod addresses are reachable
environment: VAULT_ADDR (e.g. http://127.0.0.1:8080/vault), VAULT_TOKEN
`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** The root token from sys/generate-root's `encoded_token` (Vault ≥ 1.10: base64 of token XOR OTP). */
function decodeRootToken(encoded: string, otp: string): string | undefined {
  const bytes = Buffer.from(encoded.trim(), 'base64');
  const pad = Buffer.from(otp.trim(), 'utf8');
  if (bytes.length === 0 || bytes.length !== pad.length) return undefined;
  for (let i = 0; i < bytes.length; i++) bytes[i]! ^= pad[i]!;
  return bytes.toString('utf8');
}

export async function runVaultCli(args: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  const addr = (io.env.VAULT_ADDR ?? (io.env.ZENO_BASE_URL ? `${io.env.ZENO_BASE_URL.replace(/\/+$/, '')}/vault` : `http://127.0.0.1:${io.env.PORT ?? '8080'}/vault`)).replace(/\/+$/, '');
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await io.fetch(`${addr}/v1/${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { 'x-vault-token': token } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as Record<string, any>) : {};
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${(json.errors as string[] | undefined)?.join('; ') ?? text}`);
    return json;
  };
  const printStatus = (s: Record<string, any>, asJson: boolean) => {
    if (asJson) return io.out(JSON.stringify(s, null, 2) + '\n');
    const rows: [string, unknown][] = [
      ['Seal Type', s.type],
      ['Initialized', s.initialized],
      ['Sealed', s.sealed],
      ['Total Shares', s.n],
      ['Threshold', s.t],
      ['Unseal Progress', `${s.progress}/${s.t}`],
      ['Unseal Nonce', s.nonce || 'n/a'],
      ['Version', s.version],
      ['Storage Type', s.storage_type],
    ];
    io.out(rows.map(([k, v]) => `${k.padEnd(16)} ${String(v)}`).join('\n') + '\n');
  };

  try {
    switch (command) {
      case 'init': {
        const shares = Number(flag(rest, '--shares') ?? 5);
        const threshold = Number(flag(rest, '--threshold') ?? 3);
        const r = await call('PUT', 'sys/init', { secret_shares: shares, secret_threshold: threshold });
        if (rest.includes('--json')) {
          io.out(JSON.stringify(r, null, 2) + '\n');
          return 0;
        }
        const keys: string[] = r.keys.length ? r.keys : r.recovery_keys;
        const label = r.keys.length ? 'Unseal Key' : 'Recovery Key';
        io.out(keys.map((k, i) => `${label} ${i + 1}: ${k}`).join('\n') + `\n\nInitial Root Token: ${r.root_token}\n\n`);
        io.out(`The vault is initialised with ${keys.length} key shares and a threshold of ${threshold}.\n` +
          'The shares are shown once and stored nowhere: hand each to a different person now.\n');
        return 0;
      }
      case 'unseal': {
        const key = (rest[0] ?? (await io.readStdin())).trim();
        if (!key) {
          io.err('no key share given\n');
          return 2;
        }
        printStatus(await call('PUT', 'sys/unseal', { key }), false);
        return 0;
      }
      case 'seal': {
        const token = io.env.VAULT_TOKEN;
        if (!token) {
          io.err('VAULT_TOKEN is required to seal\n');
          return 2;
        }
        await call('PUT', 'sys/seal', {}, token);
        io.out('Vault sealed.\n');
        return 0;
      }
      case 'status': {
        if (rest.includes('--kube')) {
          const { replicaStatuses, replicaTable } = await import('./vault-replicas.js');
          const replicas = await replicaStatuses({
            kubeconfig: flag(rest, '--kubeconfig'),
            namespace: flag(rest, '--namespace'),
            service: flag(rest, '--service') ?? 'vault-unsealer',
            fetch: io.fetch,
          });
          io.out(rest.includes('--json') ? JSON.stringify(replicas, null, 2) + '\n' : replicaTable(replicas));
          if (replicas.length === 0) io.err('no unsealer replica found\n');
          // 0 only when every replica answers unsealed, as the vault CLI's 0 means unsealed.
          return replicas.length > 0 && replicas.every((r) => !('error' in r.status) && !r.status.sealed) ? 0 : 2;
        }
        const s = await call('GET', 'sys/seal-status');
        printStatus(s, rest.includes('--json'));
        // As the vault CLI: 0 unsealed, 2 sealed.
        return s.sealed ? 2 : 0;
      }
      case 'generate-root': {
        // Vault's flags are single-dash; both spellings are taken.
        const encoded = flag(rest, '-decode') ?? flag(rest, '--decode');
        const otp = flag(rest, '-otp') ?? flag(rest, '--otp');
        if (!encoded || !otp) {
          io.err('generate-root: only -decode ENCODED -otp OTP is supported here; run the ceremony through sys/generate-root\n');
          return 2;
        }
        const token = decodeRootToken(encoded, otp);
        if (!token) {
          io.err('generate-root: the OTP does not match the encoded token\n');
          return 1;
        }
        io.out(`${token}\n`);
        return 0;
      }
      default:
        io.err(USAGE);
        return command && command !== 'help' && command !== '--help' ? 2 : 0;
    }
  } catch (err) {
    io.err(`zenokube vault ${command}: ${(err as Error).message}\n`);
    return 1;
  }
}

async function readAll(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Key share (will be hidden from history): ');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function main(args: string[]): Promise<number> {
  return runVaultCli(args, {
    env: process.env,
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    readStdin: readAll,
    fetch,
  });
}
