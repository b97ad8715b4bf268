// `zenokube license verify`: checks a license token or machine file offline against a pinned JWKS,
// as an embedded product would, and prints the verdict. Exit 0 valid, 1 refused, 2 usage.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fileClockStore } from '#functions/lms/core/clock-file';
import { verifyLicense } from '#functions/lms/core/verifier';

const USAGE = `usage: zenokube license verify --jwks FILE --audience PRODUCT_ID [TOKEN_FILE|-]
  --issuer URL          require this iss ({base}/lms/{tenant})
  --fingerprint FP      this machine's fingerprint (node-locked licenses, machine files)
  --revocations FILE    a signed revocation list (GET …/v1/products/{id}/revocations, its "token")
  --clock-file FILE     remember the latest time seen; refuse a clock set back before it
  --now SECONDS         verify at this time instead of the system clock
`;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Standard input, for a token given as `-`. */
  stdin(): Promise<string>;
}

const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** Reads a token file: the bare token, or a JSON answer of the API carrying it as `token`. */
function tokenOf(text: string): string {
  const t = text.trim();
  if (t.startsWith('{')) {
    const v = JSON.parse(t) as { token?: unknown };
    if (typeof v.token === 'string') return v.token;
  }
  return t;
}

export async function runLicenseCli(argv: string[], io: CliIo = processIo): Promise<number> {
  if (argv[0] !== 'verify') {
    io.err(USAGE);
    return 2;
  }
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv.slice(1),
      allowPositionals: true,
      options: {
        jwks: { type: 'string' }, audience: { type: 'string' }, issuer: { type: 'string' }, fingerprint: { type: 'string' },
        revocations: { type: 'string' }, 'clock-file': { type: 'string' }, now: { type: 'string' },
      },
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!values.jwks || !values.audience || positionals.length > 1 || (values.now !== undefined && !/^\d+$/.test(values.now))) {
    io.err(USAGE);
    return 2;
  }
  const source = positionals[0] ?? '-';
  let token: string;
  let keys;
  let revocations: string | undefined;
  try {
    token = tokenOf(source === '-' ? await io.stdin() : await readFile(source, 'utf8'));
    keys = JSON.parse(await readFile(values.jwks, 'utf8'));
    if (!keys || !Array.isArray(keys.keys)) throw new Error(`${values.jwks} is not a JWKS ({"keys": [...]})`);
    if (values.revocations) revocations = tokenOf(await readFile(values.revocations, 'utf8'));
  } catch (err) {
    io.err(`zenokube license verify: ${(err as Error).message}\n`);
    return 2;
  }
  const verdict = await verifyLicense(token, {
    keys,
    audience: values.audience,
    ...(values.issuer ? { issuer: values.issuer } : {}),
    ...(values.fingerprint ? { fingerprint: values.fingerprint } : {}),
    ...(revocations ? { revocations } : {}),
    ...(values['clock-file'] ? { clock: fileClockStore(values['clock-file']) } : {}),
    ...(values.now ? { now: Number(values.now) } : {}),
  });
  io.out(`${JSON.stringify(verdict, null, 2)}\n`);
  return verdict.valid ? 0 : 1;
}

export async function main(args: string[]): Promise<number> {
  return runLicenseCli(args);
}
