// Test certificates made with the openssl CLI: a certificate authority, and leaf certificates it
// signs for DNS names (P-256 keys, valid for a day). PEM text, for node's tls and for Secrets and
// ConfigMaps.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  cert: string;
  key: string;
}

function inTempDir<T>(fn: (file: (name: string) => string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'zeno-certs-'));
  try {
    return fn((name) => join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A self-signed certificate authority named `cn`. */
export function certificateAuthority(cn: string): Pem {
  return inTempDir((file) => {
    execFileSync('openssl', ['req', '-x509', ...KEY, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '1', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
    return { cert: readFileSync(file('ca.crt'), 'utf8'), key: readFileSync(file('ca.key'), 'utf8') };
  });
}

/** A server certificate for `names` (the first is the CN) signed by `ca`. */
export function serverCertificate(ca: Pem, ...names: string[]): Pem {
  return inTempDir((file) => {
    writeFileSync(file('ca.crt'), ca.cert);
    writeFileSync(file('ca.key'), ca.key);
    writeFileSync(file('ext.cnf'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`);
    execFileSync('openssl', ['req', ...KEY, '-keyout', file('leaf.key'), '-out', file('leaf.csr'), '-subj', `/CN=${names[0]}`], { stdio: 'ignore' });
    execFileSync('openssl', ['x509', '-req', '-in', file('leaf.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('leaf.crt'), '-days', '1', '-extfile', file('ext.cnf')], { stdio: 'ignore' });
    return { cert: readFileSync(file('leaf.crt'), 'utf8'), key: readFileSync(file('leaf.key'), 'utf8') };
  });
}
