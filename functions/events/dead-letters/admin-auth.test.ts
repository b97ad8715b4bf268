import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { AppError } from '#shared/http/errors';
import { createAdminCheck } from './admin-auth.js';

const ISSUER = 'https://id.example.test/auth/system';

describe('createAdminCheck (zeno:admin tokens by the issuer JWKS)', () => {
  let server: Server;
  let base: string;
  let token: string;

  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'EdDSA' };
    server = createServer((req, res) => {
      if (req.url === '/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      else if (req.url === '/broken') res.writeHead(500).end('down');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"not":"a jwks"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    token = await new SignJWT({ client_id: 'zeno-admin', scope: 'openid zeno:admin' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k1' })
      .setIssuer(ISSUER)
      .setSubject('admin-1')
      .setExpirationTime('5m')
      .sign(privateKey);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof AppError, String(err));
    return [err.status, err.code];
  };

  it('accepts an admin token signed by a key of the JWKS', async () => {
    assert.deepEqual(await createAdminCheck({ issuer: ISSUER, jwksUrl: `${base}/jwks` })(`Bearer ${token}`), { sub: 'admin-1' });
  });

  it('refuses the token of another issuer with 401', async () => {
    assert.deepEqual(await failure(createAdminCheck({ issuer: 'https://other.test/auth/system', jwksUrl: `${base}/jwks` })(`Bearer ${token}`)), [401, 'invalid_token']);
  });

  it('answers 503 when the issuer keys cannot be had, whatever the reason', async () => {
    assert.deepEqual(await failure(createAdminCheck({ issuer: ISSUER, jwksUrl: `${base}/broken` })(`Bearer ${token}`)), [503, 'issuer_unavailable']);
    assert.deepEqual(await failure(createAdminCheck({ issuer: ISSUER, jwksUrl: `${base}/other` })(`Bearer ${token}`)), [503, 'issuer_unavailable']);
    assert.deepEqual(await failure(createAdminCheck({ issuer: ISSUER, jwksUrl: 'http://127.0.0.1:1/jwks' })(`Bearer ${token}`)), [503, 'issuer_unavailable']);
  });
});
