// A stand-in for ZenoAuth in tests: each tenant's JWKS on a loopback server, and access tokens
// shaped as ZenoAuth issues them (EdDSA, typ at+jwt, scope, client_id).
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

export interface TestIssuer {
  /** The issuer base: tenant t's issuer is `<base>/t`. */
  base: string;
  token(tenant: string, scope: string, opts?: { issuer?: string; expiresIn?: string; sub?: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  const server: Server = createServer((req, res) => {
    if (/^\/auth\/[a-z0-9-]+\/jwks$/.test(req.url ?? '')) res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth`;
  return {
    base,
    token: (tenant, scope, opts = {}) =>
      new SignJWT({ client_id: 'app-1', scope, jti: randomUUID() })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' })
        .setIssuer(opts.issuer ?? `${base}/${tenant}`)
        .setSubject(opts.sub ?? 'caller-1')
        .setIssuedAt()
        .setExpirationTime(opts.expiresIn ?? '5m')
        .sign(privateKey),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
